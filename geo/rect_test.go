package geo

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/golang/geo/s1"
	"github.com/golang/geo/s2"
)

// TestAppendMeetingRect checks that the candidates the index gives for a
// box hold every entry with a footprint that meets the box (as
// Footprint.IntersectsRect decides), near the poles and across the
// antimeridian too, for boxes from a few kilometres to half the globe.
func TestAppendMeetingRect(t *testing.T) {
	r := newRand(t)
	ix := NewIndex()
	var fps [][]*Footprint
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for i := range cases(600) {
		var vols []Volume
		var list []*Footprint
		for range 1 + r.IntN(3) {
			size := math.Exp(math.Log(500) + r.Float64()*math.Log(4000)) // 0.5 to 2,000 km
			c := randCenter(r)
			s := randShape(r, size, r.IntN(3))
			var f *Footprint
			if s.circle {
				lat, lng := toDegrees(c)
				f = newCircle(lat, lng, s.radiusM, true)
			} else {
				p, err := newPolygon(s.vertices(c), true)
				if err != nil {
					continue
				}
				f = p
			}
			vols = append(vols, Volume{Footprint: f, UpperM: 100, Start: at, End: at.Add(time.Hour)})
			list = append(list, f)
		}
		if len(vols) == 0 {
			continue
		}
		ix.Insert(fmt.Sprintf("op-%d", i), "alpha", vols)
		fps = append(fps, list)
	}
	ix.Remove("op-3") // a free slot is no candidate
	met, extra := 0, 0
	for range cases(400) {
		lat, lng := toDegrees(randCenter(r))
		half := math.Exp(math.Log(0.02) + r.Float64()*math.Log(4000)) // 0.02° to 80°
		box := s2.RectFromCenterSize(s2.LatLngFromDegrees(lat, lng), s2.LatLngFromDegrees(half, 2*half)).Intersection(s2.FullRect())
		if r.IntN(4) == 0 { // across the antimeridian
			w := half * math.Pi / 180
			box.Lng = s1.IntervalFromEndpoints(math.Pi-w, -math.Pi+w)
		}
		got := ix.AppendMeetingRect(nil, box)
		for i, list := range fps {
			id := fmt.Sprintf("op-%d", i)
			meets := slices.ContainsFunc(list, func(f *Footprint) bool { return f.IntersectsRect(box) })
			in := slices.Contains(got, id)
			switch {
			case id == "op-3" && in:
				t.Fatalf("a removed entry is a candidate")
			case id == "op-3":
			case meets && !in:
				t.Fatalf("box %v: %s meets it but is no candidate", box, id)
			case meets:
				met++
			case in:
				extra++
			}
		}
	}
	t.Logf("%d meetings found, %d candidates that do not meet", met, extra)
	if met == 0 {
		t.Fatal("no box met any footprint: the test tests nothing")
	}
}

// TestAppendMeetingRectDuring checks that the candidates for a box and a
// time window hold every entry with a footprint that meets the box whose
// volumes together reach into the window (windows touching at one instant
// included), and no entry whose volumes are all a second or more away
// from it.
func TestAppendMeetingRectDuring(t *testing.T) {
	r := newRand(t)
	ix := NewIndex()
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	type op struct {
		fps        []*Footprint
		start, end time.Time
	}
	var ops []op
	for i := range cases(600) {
		var o op
		var vols []Volume
		for range 1 + r.IntN(3) {
			lat, lng := 33+4*r.Float64(), 36+4*r.Float64()
			f := newCircle(lat, lng, 1000+50_000*r.Float64(), true)
			start := at.Add(time.Duration(r.IntN(48*3600)) * time.Second)
			end := start.Add(time.Duration(1+r.IntN(6*3600)) * time.Second)
			vols = append(vols, Volume{Footprint: f, UpperM: 100, Start: start, End: end})
			o.fps = append(o.fps, f)
			if o.start.IsZero() || start.Before(o.start) {
				o.start = start
			}
			if end.After(o.end) {
				o.end = end
			}
		}
		ix.Insert(fmt.Sprintf("op-%d", i), "alpha", vols)
		ops = append(ops, o)
	}
	found := 0
	for range cases(300) {
		lat, lng := 33+4*r.Float64(), 36+4*r.Float64()
		half := 0.2 + 2*r.Float64()
		box := s2.RectFromCenterSize(s2.LatLngFromDegrees(lat, lng), s2.LatLngFromDegrees(half, half))
		start := at.Add(time.Duration(r.IntN(54*3600)) * time.Second)
		end := start.Add(time.Duration(r.IntN(2*3600)) * time.Second)
		if r.IntN(4) == 0 { // a window that starts where an entry ends
			o := ops[r.IntN(len(ops))]
			start, end = o.end, o.end.Add(time.Hour)
		}
		got := ix.AppendMeetingRectDuring(nil, box, seconds(start), seconds(end))
		for i, o := range ops {
			id := fmt.Sprintf("op-%d", i)
			in := slices.Contains(got, id)
			meets := slices.ContainsFunc(o.fps, func(f *Footprint) bool { return f.IntersectsRect(box) })
			during := !o.end.Before(start) && !o.start.After(end)
			far := o.end.Before(start.Add(-time.Second)) || o.start.After(end.Add(time.Second))
			switch {
			case meets && during && !in:
				t.Fatalf("box %v, %v to %v: %s meets it, %v to %v, but is no candidate", box, start, end, id, o.start, o.end)
			case far && in:
				t.Fatalf("%s, %v to %v, is a candidate for %v to %v", id, o.start, o.end, start, end)
			case meets && during:
				found++
			}
		}
	}
	if found == 0 {
		t.Fatal("no entry met any box and window: the test tests nothing")
	}
}
