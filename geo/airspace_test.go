package geo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/golang/geo/s1"
	"github.com/golang/geo/s2"
)

// randBox returns a box around a random centre (near the poles and the
// antimeridian too), from a few hundred metres to 2×maxHalf degrees
// wide, a quarter of them across the antimeridian.
func randBox(r *rand.Rand, maxHalf float64) s2.Rect {
	lat, lng := toDegrees(randCenter(r))
	half := math.Exp(math.Log(0.005) + r.Float64()*math.Log(maxHalf/0.005)) // 0.005° to maxHalf°
	box := s2.RectFromCenterSize(s2.LatLngFromDegrees(lat, lng), s2.LatLngFromDegrees(half, 2*half)).Intersection(s2.FullRect())
	if r.IntN(4) == 0 {
		w := half * math.Pi / 180
		box.Lng = s1.IntervalFromEndpoints(math.Pi-w, -math.Pi+w)
	}
	return box
}

// destination is the point at angular distance d from p in direction
// bearing (radians from north), by the spherical law of cosines.
func destination(p s2.LatLng, bearing, d float64) s2.LatLng {
	lat1, lng1 := p.Lat.Radians(), p.Lng.Radians()
	lat2 := math.Asin(math.Sin(lat1)*math.Cos(d) + math.Cos(lat1)*math.Sin(d)*math.Cos(bearing))
	lng2 := lng1 + math.Atan2(math.Sin(bearing)*math.Sin(d)*math.Cos(lat1), math.Cos(d)-math.Sin(lat1)*math.Sin(lat2))
	return s2.LatLng{Lat: s1.Angle(lat2), Lng: s1.Angle(math.Remainder(lng2, 2*math.Pi))}.Normalized()
}

// TestExpandRect checks ExpandRect against its definition on seeded
// random boxes: every point reached from a point of the box by going at
// most d in any direction is in the expanded box (points on the edges
// and corners are the ones that test it), and a point clearly farther
// than d north or south of it is not.
func TestExpandRect(t *testing.T) {
	r := newRand(t)
	far := 0
	for range cases(2000) {
		box := randBox(r, 20)
		d := math.Exp(math.Log(100)+r.Float64()*math.Log(3000)) / EarthRadiusM // 100 m to 300 km
		ex := ExpandRect(box, s1.Angle(d))
		for range 20 {
			// A point of the box, on an edge or corner half of the time.
			lat := box.Lat.Lo + r.Float64()*box.Lat.Length()
			lng := box.Lng.Lo + r.Float64()*box.Lng.Length()
			switch r.IntN(4) {
			case 0:
				lat = box.Lat.Lo
			case 1:
				lat = box.Lat.Hi
			}
			if r.IntN(2) == 0 {
				lng = box.Lng.Lo
				if r.IntN(2) == 0 {
					lng = box.Lng.Hi
				}
			}
			p := s2.LatLng{Lat: s1.Angle(lat), Lng: s1.Angle(math.Remainder(lng, 2*math.Pi))}
			q := destination(p, r.Float64()*2*math.Pi, d*math.Sqrt(r.Float64()))
			if !ex.ContainsLatLng(q) {
				t.Fatalf("box %v, d %g m: %v is within d of %v but not in %v", box, d*EarthRadiusM, q, p, ex)
			}
		}
		if north := box.Lat.Hi + 2*d + 1e-6; north < math.Pi/2 && !ex.IsFull() {
			far++
			if ex.ContainsLatLng(s2.LatLng{Lat: s1.Angle(north), Lng: s1.Angle(box.Lng.Center())}) {
				t.Fatalf("box %v, d %g m: a point %g m north of it is in %v", box, d*EarthRadiusM, 2*d*EarthRadiusM, ex)
			}
		}
	}
	if far == 0 {
		t.Fatal("no box tested a point too far: the test tests too little")
	}
}

// TestEntryBoundMeetingRect checks the index against a brute force: an
// entry of the groups asked for is found exactly when the bounding box
// of its volumes meets the rectangle.
func TestEntryBoundMeetingRect(t *testing.T) {
	r := newRand(t)
	ix := NewIndex()
	type op struct {
		group string
		bound s2.Rect
	}
	ops := map[string]op{}
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for i := range cases(100) {
		var vols []Volume
		bound := s2.EmptyRect()
		c := randCenter(r) // an operation's volumes are in one place, of several shapes
		for range 1 + r.IntN(3) {
			size := math.Exp(math.Log(500) + r.Float64()*math.Log(100)) // 0.5 to 50 km
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
			bound = bound.Union(f.RectBound())
		}
		if len(vols) == 0 {
			continue
		}
		id, group := fmt.Sprintf("op-%d", i), []string{"alpha", "bravo", "charlie"}[r.IntN(3)]
		ix.Insert(id, group, vols)
		ops[id] = op{group, bound}
	}
	found, missed := 0, 0
	for range cases(400) {
		box := randBox(r, 0.5)
		groups := []string{"bravo", "charlie"}[:1+r.IntN(2)]
		in := func(g string) bool { return slices.Contains(groups, g) }
		want := false
		for _, o := range ops {
			want = want || (in(o.group) && o.bound.Intersects(box))
		}
		id, got := ix.EntryBoundMeetingRect(box, in)
		switch {
		case got != want:
			t.Fatalf("box %v, groups %v: found %v (%s), brute force %v", box, groups, got, id, want)
		case got && (!in(ops[id].group) || !ops[id].bound.Intersects(box)):
			t.Fatalf("box %v, groups %v: %s (of %s, bound %v) does not meet it", box, groups, id, ops[id].group, ops[id].bound)
		case got:
			found++
		default:
			missed++
		}
	}
	t.Logf("%d boxes met an entry, %d none", found, missed)
	if found == 0 || missed == 0 {
		t.Fatal("every box gave the same answer: the test tests too little")
	}
}

// BenchmarkEntryBoundMeetingRect: one question of a node about a silent
// peer's operations, among 100,000 entries in the Levant of which half are
// that peer's, for a box of about 20 km that meets none of them: north of
// them all, or at their latitudes east of them.
func BenchmarkEntryBoundMeetingRect(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	ix := NewIndex()
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for i := range 100_000 {
		f := newCircle(29+8*r.Float64(), 29+14*r.Float64(), 1000+4000*r.Float64(), true)
		ix.Insert(fmt.Sprintf("op-%d", i), []string{"alpha", "bravo"}[i%2], []Volume{{Footprint: f, UpperM: 100, Start: at, End: at.Add(time.Hour)}})
	}
	bravo := func(g string) bool { return g == "bravo" }
	for _, c := range []struct {
		name     string
		lat, lng float64
	}{{"north", 45, 36}, {"east", 33, 50}} {
		box := s2.RectFromCenterSize(s2.LatLngFromDegrees(c.lat, c.lng), s2.LatLngFromDegrees(0.2, 0.2))
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				if _, ok := ix.EntryBoundMeetingRect(box, bravo); ok {
					b.Fatal("the box meets an entry")
				}
			}
		})
	}
}
