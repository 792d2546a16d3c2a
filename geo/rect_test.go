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
