package dss

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	dc "github.com/deconflict/deconflict"
	"github.com/golang/geo/s2"
)

func circleAt(lat, lng, r float64) []dc.Volume4D {
	return []dc.Volume4D{{Volume: dc.Volume3D{OutlineCircle: &dc.Circle{Center: &dc.LatLng{Lat: dc.Float(lat), Lng: dc.Float(lng)}, Radius: &dc.Measure{Value: dc.Float(r), Units: "M"}}}}}
}

func polygonOf(pts ...[2]float64) []dc.Volume4D {
	var vs []dc.LatLng
	for _, p := range pts {
		vs = append(vs, dc.LatLng{Lat: dc.Float(p[0]), Lng: dc.Float(p[1])})
	}
	return []dc.Volume4D{{Volume: dc.Volume3D{OutlinePolygon: &dc.Polygon{Vertices: vs}}}}
}

// A subscription covers an intent by its footprint, not its bounding
// box: an intent in the notch of an L-shaped subscription is not
// covered, one in an arm is, whichever way round the vertices go.
func TestCoversShape(t *testing.T) {
	l := [][2]float64{{0, 0}, {0, 0.2}, {0.05, 0.2}, {0.05, 0.05}, {0.2, 0.05}, {0.2, 0}}
	rev := slices.Clone(l)
	slices.Reverse(rev)
	for _, ring := range [][][2]float64{l, rev} {
		sub := polygonOf(ring...)
		if !covers(sub, cellsOf(circleAt(0.025, 0.15, 300))) {
			t.Error("an intent inside an arm is not covered")
		}
		if covers(sub, cellsOf(circleAt(0.15, 0.15, 300))) {
			t.Error("an intent in the notch is covered")
		}
		if covers(sub, cellsOf(circleAt(0.025, 0.15, 20000))) {
			t.Error("an intent larger than the subscription is covered")
		}
	}
}

// covers agrees with comparing the two coverings at coverLevel, which
// is how the InterUSS DSS decides it.
func TestCoversAgreesWithCoverings(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	rc := &s2.RegionCoverer{MinLevel: coverLevel, MaxLevel: coverLevel, LevelMod: 1, MaxCells: math.MaxInt32}
	union := func(vols []dc.Volume4D) s2.CellUnion {
		var u s2.CellUnion
		for _, v := range vols {
			u = append(u, rc.CellUnion(regionOf(v.Volume))...)
		}
		u.Normalize()
		return u
	}
	agreeTrue := 0
	for range 300 {
		sub := circleAt(10+rnd.Float64()*0.05, 10+rnd.Float64()*0.05, 500+rnd.Float64()*3000)
		o := circleAt(10+rnd.Float64()*0.05, 10+rnd.Float64()*0.05, 100+rnd.Float64()*1500)
		su := union(sub)
		want := su.Contains(union(o))
		if got := covers(sub, cellsOf(o)); got != want {
			t.Fatalf("covers(%v, %v) = %v, the coverings say %v", *sub[0].Volume.OutlineCircle.Radius.Value, *o[0].Volume.OutlineCircle.Radius.Value, got, want)
		}
		if want {
			agreeTrue++
		}
	}
	if agreeTrue == 0 || agreeTrue == 300 {
		t.Fatalf("the cases are all alike (%d covered of 300)", agreeTrue)
	}
}

// BenchmarkCovers measures the coverage check made under the write lock:
// a 500 m intent against a subscription of the largest area (2,500 km²).
func BenchmarkCovers(b *testing.B) {
	sub, cells := circleAt(51.5, -0.1, 28000), cellsOf(circleAt(51.5, -0.1, 500))
	for b.Loop() {
		if !covers(sub, cells) {
			b.Fatal("not covered")
		}
	}
}
