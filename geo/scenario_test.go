package geo

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/deconflict/deconflict"
	"github.com/golang/geo/s2"
)

// pair is a random pair of volumes with what the oracle says of them.
type pair struct {
	a, b     []Volume
	oa, ob   oShape
	h        float64 // oracle's horizontal distance, metres
	v, t     float64 // vertical and time gaps
	kinds    [2]int
	relation string
	m        Minima
	targetH  float64
}

var base0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

var kindNames = [...]string{"circle", "polygon", "big polygon"}

// randPair draws two footprints and places them: at a random distance,
// a few metres either side of the horizontal minimum, or one inside the
// other; then gives them altitude bands and time windows whose gaps sit
// near the vertical and time minima.
func randPair(t testing.TB, r *rand.Rand) pair {
	p := pair{m: Minima{
		HorizontalM: []float64{0, 500, 9260, 9260, 50_000}[r.IntN(5)],
		VerticalM:   []float64{0, 304.8, 304.8, 1000}[r.IntN(4)],
		TimeS:       []float64{0, 300, 300, 3600}[r.IntN(4)],
	}}
	p.kinds = [2]int{r.IntN(3), r.IntN(3)}
	sa := randShape(r, math.Exp(math.Log(1000)+r.Float64()*math.Log(100)), p.kinds[0])
	sb := randShape(r, math.Exp(math.Log(1000)+r.Float64()*math.Log(100)), p.kinds[1])
	ca := randCenter(r)
	var cb vec
	switch r.IntN(4) {
	case 0:
		p.relation = "random"
		cb = offset(ca, 2*math.Pi*r.Float64(), (extent(sa)+extent(sb)+30_000)*r.Float64()/EarthRadiusM)
	case 1:
		p.relation = "nested"
		sb = randShape(r, extent(sa)/10, p.kinds[1])
		cb = ca
	default:
		p.relation = "near minimum"
		p.targetH = max(p.m.HorizontalM+[]float64{-5, -2, -1.5, 1.5, 2, 5, 50}[r.IntN(7)], 1)
		cb, _ = place(sa, ca, sb, 2*math.Pi*r.Float64(), p.targetH)
	}
	p.oa, p.ob = sa.oracle(ca), sb.oracle(cb)
	p.h = oDistance(p.oa, p.ob) * EarthRadiusM

	vOff := []float64{-300, -2, -1.01, 1.01, 2, 300}[r.IntN(6)]
	lowerA := 1000 * r.Float64()
	upperA := lowerA + 50 + 2000*r.Float64()
	lowerB := upperA + p.m.VerticalM + vOff // B above A
	upperB := lowerB + 10 + 1000*r.Float64()
	if r.IntN(3) == 0 {
		lowerB, upperB = lowerA+10, upperA-10 // overlapping bands
	}
	p.v = max(lowerA, lowerB) - min(upperA, upperB)

	base := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC).Add(time.Duration(r.Int64N(int64(7 * 24 * time.Hour))))
	tOff := []time.Duration{-time.Hour, -time.Second, -2 * time.Millisecond, 2 * time.Millisecond, time.Second, time.Hour}[r.IntN(6)]
	startA := base
	endA := startA.Add(time.Duration(1+r.Int64N(int64(3*time.Hour))) + time.Minute)
	startB := endA.Add(time.Duration(p.m.TimeS*float64(time.Second)) + tOff)
	endB := startB.Add(time.Duration(1+r.Int64N(int64(3*time.Hour))) + time.Minute)
	if r.IntN(3) == 0 {
		startB, endB = startA.Add(time.Minute), endA.Add(time.Hour)
	}
	if !endB.After(startB) {
		endB = startB.Add(time.Minute)
	}
	p.t = later(startA, startB).Sub(earlier(endA, endB)).Seconds()

	p.a = mustParse(t, wireVolume(sa.wire(ca), lowerA, upperA, startA, endA))
	p.b = mustParse(t, wireVolume(sb.wire(cb), lowerB, upperB, startB, endB))
	return p
}

// decided returns the oracle's answer, and false if a gap lies within
// 1 m or 1 ms of its minimum, where the contract accepts either answer.
func (p pair) decided() (conflict, ok bool) {
	if math.Abs(p.h-p.m.HorizontalM) <= 1 || math.Abs(p.v-p.m.VerticalM) <= 1 || math.Abs(p.t-p.m.TimeS) <= 1e-3 {
		return false, false
	}
	return (p.h < p.m.HorizontalM || p.h == 0) && p.v < p.m.VerticalM && p.t < p.m.TimeS, true
}

func TestDistanceMatchesOracle(t *testing.T) {
	r := newRand(t)
	n := cases(200)
	var worst float64
	for i := range n {
		p := randPair(t, r)
		fa, fb := p.a[0].Footprint, p.b[0].Footprint
		got := fa.DistanceM(fb)
		if back := fb.DistanceM(fa); back != got {
			t.Fatalf("case %d: DistanceM not symmetric: %v and %v", i, got, back)
		}
		if err := math.Abs(got - p.h); err > 0.01 {
			t.Fatalf("case %d (%s %s, %s): DistanceM = %.4f m, oracle %.4f m", i,
				kindNames[p.kinds[0]], kindNames[p.kinds[1]], p.relation, got, p.h)
		} else {
			worst = max(worst, err)
		}
		if p.relation == "near minimum" && math.Abs(p.h-p.targetH) > 0.01 {
			t.Fatalf("case %d: placed at %.4f m, wanted %.4f m", i, p.h, p.targetH)
		}
	}
	t.Logf("%d pairs, worst difference from the oracle %.3g m", n, worst)
}

func TestCompareOperationsMatchesOracle(t *testing.T) {
	r := newRand(t)
	n := cases(200)
	var decided, conflicts int
	for i := range n {
		p := randPair(t, r)
		s, got := CompareOperations(p.a, p.b, p.m)
		s2, got2 := CompareOperations(p.b, p.a, p.m)
		if got != got2 || s != s2 {
			t.Fatalf("case %d: not symmetric: %v %+v and %v %+v", i, got, s, got2, s2)
		}
		if gap := Gap(&p.a[0], &p.b[0]); got && gap != s {
			t.Fatalf("case %d: CompareOperations gives %+v, Gap %+v", i, s, gap)
		}
		want, ok := p.decided()
		if !ok {
			continue
		}
		decided++
		if want {
			conflicts++
		}
		if got != want {
			t.Fatalf("case %d (%s %s, %s): conflict = %v, oracle %v; oracle gaps h=%.3f v=%.3f t=%.4f, minima %+v, got %+v",
				i, kindNames[p.kinds[0]], kindNames[p.kinds[1]], p.relation, got, want, p.h, p.v, p.t, p.m, s)
		}
	}
	t.Logf("%d pairs, %d decided by the oracle beyond 1 m / 1 ms, %d of them conflicts", n, decided, conflicts)
}

// TestCompareOperationsPicksClosestPair checks, on operations of several
// volumes, that the separation returned is that of the conflicting pair
// the oracle finds horizontally closest.
func TestCompareOperationsPicksClosestPair(t *testing.T) {
	r := newRand(t)
	for i := range cases(100) {
		m := Minima{HorizontalM: 9260, VerticalM: 304.8, TimeS: 300}
		center := randCenter(r)
		var ops [2][]Volume
		var shapes [2][]oShape
		for k := range ops {
			for range 1 + r.IntN(3) {
				s := randShape(r, 1000+20_000*r.Float64(), r.IntN(3))
				c := offset(center, 2*math.Pi*r.Float64(), 40_000*r.Float64()/EarthRadiusM)
				start := time.Date(2026, 11, 25, 12, r.IntN(120), 0, 0, time.UTC)
				lower := 300 * r.Float64()
				ops[k] = append(ops[k], mustParse(t, wireVolume(s.wire(c), lower, lower+100, start, start.Add(30*time.Minute)))...)
				shapes[k] = append(shapes[k], s.oracle(c))
			}
		}
		best, found, clear := math.Inf(1), false, true
		for x, a := range ops[0] {
			for y, b := range ops[1] {
				h := oDistance(shapes[0][x], shapes[1][y]) * EarthRadiusM
				gap := Gap(&a, &b)
				if math.Abs(h-m.HorizontalM) <= 1 {
					clear = false
				}
				if (h < m.HorizontalM || h == 0) && gap.VerticalM < m.VerticalM && gap.TimeS < m.TimeS {
					best, found = min(best, h), true
				}
			}
		}
		if !clear {
			continue
		}
		s, ok := CompareOperations(ops[0], ops[1], m)
		if ok != found || (ok && math.Abs(s.HorizontalM-best) > 0.01) {
			t.Fatalf("case %d: got %v %+v, oracle %v with horizontal %.4f", i, ok, s, found, best)
		}
	}
}

// TestWithin pins the strict inequalities and the zero-distance rule.
func TestWithin(t *testing.T) {
	m := Minima{HorizontalM: 100, VerticalM: 10, TimeS: 60}
	for _, c := range []struct {
		s    deconflict.Separation
		m    Minima
		want bool
	}{
		{deconflict.Separation{HorizontalM: 99.9, VerticalM: 9.9, TimeS: 59.9}, m, true},
		{deconflict.Separation{HorizontalM: 100, VerticalM: 0, TimeS: 0}, m, false},
		{deconflict.Separation{HorizontalM: 0, VerticalM: 10, TimeS: 0}, m, false},
		{deconflict.Separation{HorizontalM: 0, VerticalM: 0, TimeS: 60}, m, false},
		{deconflict.Separation{HorizontalM: 0, VerticalM: -1, TimeS: -1}, Minima{}, true},
		{deconflict.Separation{HorizontalM: 1e-9, VerticalM: -1, TimeS: -1}, Minima{}, false},
		{deconflict.Separation{HorizontalM: 0, VerticalM: 0, TimeS: -1}, Minima{}, false},
	} {
		if got := Within(c.s, c.m); got != c.want {
			t.Errorf("Within(%+v, %+v) = %v, want %v", c.s, c.m, got, c.want)
		}
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// TestLargePolygonsMatchOracle checks the edge trees of large rings:
// distances to circles and to small and large polygons, and containment
// of points around them.
func TestLargePolygonsMatchOracle(t *testing.T) {
	r := newRand(t)
	for i := range cases(12) {
		n := []int{100, 400, 1500}[i%3]
		size := 20_000 + 180_000*r.Float64()
		sa := starShape(r, size, n, 0.5)
		ca := randCenter(r)
		oa := sa.oracle(ca)
		fa := mustParse(t, wireVolume(sa.wire(ca), 0, 1, base0, base0.Add(time.Hour)))[0].Footprint
		for range 20 {
			p := offset(ca, 2*math.Pi*r.Float64(), size*r.Float64()/EarthRadiusM)
			boundary := math.Inf(1)
			for j := range oa.ring {
				boundary = math.Min(boundary, arcDistance(p, oa.ring[j], oa.ring[(j+1)%len(oa.ring)]))
			}
			if boundary*EarthRadiusM < 1e-3 {
				continue
			}
			if got, want := fa.ContainsPoint(s2.PointFromCoords(p[0], p[1], p[2])), oa.contains(p); got != want {
				t.Fatalf("case %d (%d vertices): ContainsPoint = %v, oracle %v", i, n, got, want)
			}
		}
		sb := randShape(r, 1000+size*r.Float64(), r.IntN(3))
		large := r.IntN(3) == 0
		if large {
			sb = starShape(r, size*r.Float64(), 300, 0.5)
		}
		var cb vec
		var want float64
		if !large {
			cb, want = place(sa, ca, sb, 2*math.Pi*r.Float64(), 9260+[]float64{-3, 3, 5000}[r.IntN(3)])
		}
		if large || r.IntN(4) == 0 {
			cb = offset(ca, 2*math.Pi*r.Float64(), 1.1*(extent(sa)+extent(sb))*r.Float64()/EarthRadiusM)
			want = oDistance(oa, sb.oracle(cb)) * EarthRadiusM
		}
		fb := mustParse(t, wireVolume(sb.wire(cb), 0, 1, base0, base0.Add(time.Hour)))[0].Footprint
		if got := fa.DistanceM(fb); math.Abs(got-want) > 0.01 {
			t.Fatalf("case %d (%d vertices): DistanceM = %.4f, oracle %.4f", i, n, got, want)
		}
	}
}
