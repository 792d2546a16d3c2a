package geo

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/deconflict/deconflict"
	"github.com/golang/geo/s2"
)

// FuzzParseVolumes feeds JSON to ParseVolumes: it must not panic, must
// fail only with an input error naming a field, and on valid volumes Gap
// and CompareOperations must be symmetric. The seed corpus is in
// testdata/fuzz/FuzzParseVolumes.
func FuzzParseVolumes(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		var ws []deconflict.Volume4D
		if json.Unmarshal(data, &ws) != nil {
			return
		}
		vs, err := ParseVolumes(ws, "volumes")
		if err != nil {
			var e *deconflict.Error
			if !errors.As(err, &e) || (e.Code != deconflict.EInvalid && e.Code != deconflict.ETooLarge) ||
				!strings.HasPrefix(e.Field, "volumes") || e.Message == "" {
				t.Fatalf("bad error %#v", err)
			}
			return
		}
		if len(vs) != len(ws) {
			t.Fatalf("%d volumes parsed from %d", len(vs), len(ws))
		}
		vs = vs[:min(len(vs), 8)]
		for i := range vs {
			for j := range vs {
				a, b := Gap(&vs[i], &vs[j]), Gap(&vs[j], &vs[i])
				if a != b || !(a.HorizontalM >= 0) {
					t.Fatalf("Gap(%d, %d) = %+v, Gap(%d, %d) = %+v", i, j, a, j, i, b)
				}
			}
		}
		for k := range len(vs) + 1 {
			for _, m := range []Minima{{}, {HorizontalM: 9260, VerticalM: 304.8, TimeS: 300}, {HorizontalM: 1e6, VerticalM: 1e5, TimeS: 1e9}} {
				s1, ok1 := CompareOperations(vs[:k], vs[k:], m)
				s2, ok2 := CompareOperations(vs[k:], vs[:k], m)
				if ok1 != ok2 || s1 != s2 {
					t.Fatalf("split at %d, minima %+v: %v %+v and %v %+v", k, m, ok1, s1, ok2, s2)
				}
			}
		}
	})
}

// FuzzDistance draws two circles or polygons from its arguments:
// DistanceM must be symmetric and non-negative, and 0 when a vertex (or
// the centre) of one lies inside the other, by s2's test or by the
// oracle's. The seed corpus is in testdata/fuzz/FuzzDistance.
func FuzzDistance(f *testing.F) {
	f.Fuzz(func(t *testing.T, seed uint64, kindA, kindB uint8, latA, lngA, latB, lngB, sizeA, sizeB float64) {
		for _, v := range []float64{latA, lngA, latB, lngB, sizeA, sizeB} {
			if !finite(v) {
				return
			}
		}
		if math.Abs(latA) > 90 || math.Abs(latB) > 90 || math.Abs(lngA) > 180 || math.Abs(lngB) > 180 {
			return
		}
		r := rand.New(rand.NewPCG(seed, 1))
		sa := randShape(r, min(max(math.Abs(sizeA), 1), 4e6), int(kindA%3))
		sb := randShape(r, min(max(math.Abs(sizeB), 1), 4e6), int(kindB%3))
		ca, cb := fromDegrees(latA, lngA), fromDegrees(latB, lngB)
		at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
		va, errA := ParseVolumes([]deconflict.Volume4D{wireVolume(sa.wire(ca), 0, 1, at, at.Add(time.Hour))}, "volumes")
		vb, errB := ParseVolumes([]deconflict.Volume4D{wireVolume(sb.wire(cb), 0, 1, at, at.Add(time.Hour))}, "volumes")
		if errA != nil || errB != nil {
			return // a drawn ring may be invalid, such as too small
		}
		fa, fb := va[0].Footprint, vb[0].Footprint
		d := fa.DistanceM(fb)
		if back := fb.DistanceM(fa); back != d || !(d >= 0) {
			t.Fatalf("DistanceM = %v one way, %v the other", d, back)
		}
		oa, ob := sa.oracle(ca), sb.oracle(cb)
		for _, c := range []struct {
			points []vec
			f      *Footprint
			o      oShape
		}{{shapePoints(oa), fb, ob}, {shapePoints(ob), fa, oa}} {
			for _, p := range c.points {
				if c.f.ContainsPoint(s2.PointFromCoords(p[0], p[1], p[2])) && d > 1e-6 {
					t.Fatalf("a point of one footprint lies inside the other, yet DistanceM = %v", d)
				}
				if c.o.contains(p) && d > 0.01 {
					t.Fatalf("the oracle puts a point of one footprint inside the other, yet DistanceM = %v", d)
				}
			}
		}
	})
}

// shapePoints returns the centre of a circle or the vertices of a polygon.
func shapePoints(s oShape) []vec {
	if s.circle {
		return []vec{s.c}
	}
	return s.ring
}
