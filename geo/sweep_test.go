package geo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/deconflict/deconflict"
	"github.com/golang/geo/s2"
)

// allPairs is the oracle of sweepCrossing: every pair of non-adjacent
// edges, compared by s2.CrossingSign alone. It reports whether some pair
// meets.
func allPairs(v []s2.Point) bool {
	n := len(v)
	for i := range n {
		for j := i + 2; j < n; j++ {
			if i == 0 && j == n-1 {
				continue
			}
			if s2.CrossingSign(v[i], v[i+1], v[j], v[(j+1)%n]) != s2.DoNotCross {
				return true
			}
		}
	}
	return false
}

// points converts degrees to points as newPolygon does.
func points(lls [][2]float64) []s2.Point {
	v := make([]s2.Point, len(lls))
	for i, ll := range lls {
		v[i] = s2.PointFromLatLng(s2.LatLngFromDegrees(ll[0], ll[1]))
	}
	return v
}

// checkSweep compares sweepCrossing and selfCrossing with the oracles on
// ring v: the same answer, and a reported pair must be two non-adjacent
// edges that meet. It returns the oracle's answer.
func checkSweep(t *testing.T, what string, v []s2.Point) bool {
	t.Helper()
	i, j := sweepCrossing(v)
	want := allPairs(v)
	if old, _ := pairCrossing(v, 0, len(v), 0, len(v)); (old >= 0) != want {
		t.Fatalf("%s: the all-pairs loop of polygon.go says %v, CrossingSign over all pairs %v", what, old >= 0, want)
	}
	if (i >= 0) != want {
		t.Fatalf("%s (%d vertices): sweepCrossing = %d, %d; CrossingSign finds a meeting pair: %v", what, len(v), i, j, want)
	}
	checkPair(t, what+": sweepCrossing", v, i, j)
	var tree []node
	if len(v) > treeMin {
		tree = buildTree(v)
	}
	if i, j := selfCrossing(v, tree); (i >= 0) != want {
		t.Fatalf("%s (%d vertices): selfCrossing = %d, %d; CrossingSign finds a meeting pair: %v", what, len(v), i, j, want)
	} else {
		checkPair(t, what+": selfCrossing", v, i, j)
	}
	return want
}

// checkPair fails unless i, j is -1, -1 or two non-adjacent edges of v
// that meet.
func checkPair(t *testing.T, what string, v []s2.Point, i, j int) {
	t.Helper()
	n := len(v)
	if i == -1 && j == -1 {
		return
	}
	if i < 0 || j < 0 || i >= n || j >= n || i == j || adjacent(i, j, n) || s2.CrossingSign(v[i], v[(i+1)%n], v[j], v[(j+1)%n]) == s2.DoNotCross {
		t.Fatalf("%s reports edges %d and %d of %d, which do not meet", what, i, j, n)
	}
}

// ringKinds draw rings for the oracle comparison, each of n vertices in
// degrees (fewer for some kinds), simple or not.
var ringKinds = []struct {
	name string
	draw func(r *rand.Rand, n int) [][2]float64
}{
	{"simple star", func(r *rand.Rand, n int) [][2]float64 {
		return starShape(r, math.Exp(math.Log(10)+r.Float64()*math.Log(1.9e6)), n, 0.05+0.9*r.Float64()).vertices(randCenter(r))
	}},
	{"star with two vertices swapped", func(r *rand.Rand, n int) [][2]float64 {
		lls := starShape(r, math.Exp(math.Log(10)+r.Float64()*math.Log(1.9e6)), n, 0.05+0.9*r.Float64()).vertices(randCenter(r))
		i, j := r.IntN(n), r.IntN(n)
		lls[i], lls[j] = lls[j], lls[i]
		return lls
	}},
	{"random points", func(r *rand.Rand, n int) [][2]float64 {
		lls := make([][2]float64, min(n, 40))
		for i := range lls {
			lls[i] = [2]float64{180 * math.Asin(2*r.Float64()-1) / math.Pi, 360*r.Float64() - 180}
		}
		return lls
	}},
	{"coarse grid", func(r *rand.Rand, n int) [][2]float64 {
		// Vertices on meridians, the equator and each other's edges.
		step := []float64{45, 15, 1, 1e-6}[r.IntN(4)]
		lat0, lng0 := float64(r.IntN(5)-2)*30, float64(r.IntN(12)-6)*30
		lls := make([][2]float64, min(n, 12))
		for i := range lls {
			lls[i] = [2]float64{max(-90, min(90, lat0+step*float64(r.IntN(5)-2))), lng0 + step*float64(r.IntN(5)-2)}
		}
		return lls
	}},
	{"collinear runs", func(r *rand.Rand, n int) [][2]float64 {
		// A star whose edges are cut into pieces along their great
		// circles, and perhaps one vertex moved onto another edge.
		k := 3 + r.IntN(6)
		star := points(starShape(r, math.Exp(math.Log(100)+r.Float64()*math.Log(1e5)), k, 0.3).vertices(randCenter(r)))
		var lls [][2]float64
		for i := range k {
			a, b := star[i], star[(i+1)%k]
			for p := range 1 + r.IntN(4) {
				ll := s2.LatLngFromPoint(s2.Interpolate(float64(p)/4, a, b))
				lls = append(lls, [2]float64{ll.Lat.Degrees(), ll.Lng.Degrees()})
			}
		}
		if r.IntN(2) == 0 {
			m := len(lls)
			e := r.IntN(m)
			ll := s2.LatLngFromPoint(s2.Interpolate(r.Float64(), points(lls[e : e+1])[0], points(lls[(e+1)%m : (e+1)%m+1])[0]))
			lls[r.IntN(m)] = [2]float64{ll.Lat.Degrees(), ll.Lng.Degrees()}
		}
		return lls
	}},
	{"tiny spike", func(r *rand.Rand, n int) [][2]float64 {
		// A star with one spike reaching across the centre to a point of
		// the far edge, or a hair (1e-12) short of it or past it.
		m := max(n, 6)
		lls := starShape(r, math.Exp(math.Log(100)+r.Float64()*math.Log(1e6)), m, 0.6).vertices(randCenter(r))
		v := points(lls)
		k := r.IntN(m)
		f := (k + m/2) % m
		x := s2.Interpolate(0.1+0.8*r.Float64(), v[f], v[(f+1)%m])
		mid := s2.Point{Vector: v[(k+m-1)%m].Add(v[(k+1)%m].Vector).Normalize()}
		x = s2.Point{Vector: x.Add(x.Sub(mid.Vector).Mul(1e-12 * float64(r.IntN(3)-1))).Normalize()}
		ll := s2.LatLngFromPoint(x)
		lls[k] = [2]float64{ll.Lat.Degrees(), ll.Lng.Degrees()}
		return lls
	}},
	{"repeated point", func(r *rand.Rand, n int) [][2]float64 {
		lls := starShape(r, math.Exp(math.Log(10)+r.Float64()*math.Log(1.9e6)), n, 0.05+0.9*r.Float64()).vertices(randCenter(r))
		lls[r.IntN(n)] = lls[r.IntN(n)]
		return lls
	}},
	{"around an axis", func(r *rand.Rand, n int) [][2]float64 {
		// Monotone in azimuth about a random axis, so simple unless one
		// step goes back; any size, around the poles, across the
		// antimeridian.
		m := 4 + r.IntN(n)
		axis := randCenter(r)
		e, no := frame(axis)
		back := -1
		if r.IntN(2) == 0 {
			back = r.IntN(m)
		}
		lls := make([][2]float64, m)
		for i := range m {
			az := (float64(i) + 0.45*(2*r.Float64()-1)) * 2 * math.Pi / float64(m)
			if i == back {
				az -= 3 * math.Pi / float64(m)
			}
			pol := math.Pi * (0.02 + 0.96*r.Float64())
			dir := no.scale(math.Cos(az)).add(e.scale(math.Sin(az)))
			lls[i][0], lls[i][1] = toDegrees(axis.scale(math.Cos(pol)).add(dir.scale(math.Sin(pol))))
		}
		return lls
	}},
}

// validEdges reports whether no edge of v joins antipodal points, which
// newPolygon rejects before it looks for crossings.
func validEdges(v []s2.Point) bool {
	for i := range v {
		if v[i].Add(v[(i+1)%len(v)].Vector).Norm() < antipodSlack {
			return false
		}
	}
	return true
}

// TestSweepCrossingOracle compares the self-crossing test with
// CrossingSign over all pairs of edges on seeded random rings of every
// kind in ringKinds, and logs how many of each kind crossed themselves.
func TestSweepCrossingOracle(t *testing.T) {
	r := newRand(t)
	for _, k := range ringKinds {
		crossing, simple := 0, 0
		for c := range cases(300) {
			n := 4 + r.IntN([]int{8, 40, 200}[c%3])
			v := points(k.draw(r, n))
			if !validEdges(v) {
				continue
			}
			if checkSweep(t, fmt.Sprintf("%s #%d", k.name, c), v) {
				crossing++
			} else {
				simple++
			}
		}
		t.Logf("%s: %d simple rings, %d that cross themselves", k.name, simple, crossing)
	}
}

// benchRings are the rings of the self-crossing benchmarks, of 10,000
// vertices and simple: a spiky star 20 km across whose spikes all reach
// within 1 m of the centre, so that the bounds of all runs of edges
// overlap; a circle-like ring 20 km across; a square of 1,000 km whose
// sides are sampled along their great circles, so that many triples of
// vertices are nearly collinear; the equator, whose vertices are exactly
// collinear, so that RobustSign takes its exact path.
func benchRings() map[string][]s2.Point {
	r := rand.New(rand.NewPCG(1, 2))
	c := fromDegrees(34.5, 35.2)
	corners := points([][2]float64{{30, 30}, {30, 40}, {40, 40}, {40, 30}})
	var square, equator [][2]float64
	for k := range 4 {
		for i := range 2500 {
			ll := s2.LatLngFromPoint(s2.Interpolate(float64(i)/2500, corners[k], corners[(k+1)%4]))
			square = append(square, [2]float64{ll.Lat.Degrees(), ll.Lng.Degrees()})
			equator = append(equator, [2]float64{0, -180 + 360*float64(k*2500+i)/10_000})
		}
	}
	return map[string][]s2.Point{
		"spiky-star": points(starShape(r, 20_000, 10_000, 1e-4).vertices(c)),
		"circle":     points(starShape(r, 20_000, 10_000, 1).vertices(c)),
		"square":     points(square),
		"equator":    points(equator),
	}
}

// BenchmarkSelfCrossing times the self-crossing test of newPolygon on
// rings of 10,000 vertices: "before" is the dual traversal of the edge
// tree without a budget (ringCrossing), "after" is selfCrossing, and
// "sweep" is sweepCrossing alone.
//
//	go test -run '^$' -bench SelfCrossing -benchtime 10x -count 3 ./geo
func BenchmarkSelfCrossing(b *testing.B) {
	rings := benchRings()
	for _, name := range []string{"spiky-star", "circle", "square", "equator"} {
		v := rings[name]
		tree := buildTree(v)
		for _, c := range []struct {
			name  string
			check func() (int, int)
		}{
			{"before", func() (int, int) { return ringCrossing(v, tree, -1) }},
			{"after", func() (int, int) { return selfCrossing(v, tree) }},
			{"sweep", func() (int, int) { return sweepCrossing(v) }},
		} {
			b.Run(name+"/"+c.name, func(b *testing.B) {
				for b.Loop() {
					if i, j := c.check(); i != -1 {
						b.Fatalf("edges %d and %d reported", i, j)
					}
				}
			})
		}
	}
}

// TestSpikyStars compares selfCrossing with the oracles on spiky stars,
// whose edge bounds all overlap near the centre, simple and crossed: one
// spike pushed through the centre to the far side. Stars of 10,000
// vertices, too many for the all-pairs oracle, are compared with the
// tree's traversal without a budget, and go through newPolygon.
func TestSpikyStars(t *testing.T) {
	r := newRand(t)
	crossings := 0
	for c := range cases(10) {
		n := 20 + r.IntN(2000)
		if c < 2 && !testing.Short() {
			n = 10_000
		}
		center := randCenter(r)
		span := 1e6 // largest over smallest: 100 m to 100,000 km across
		if n == 10_000 && c%2 == 1 {
			// At most 10,000 km across: the spike pushed past the far
			// side (below) then stays within a quarter of the way round
			// the Earth, beyond which the gnomonic projection of
			// vertices wraps it back to the near side.
			span = 1e5
		}
		size := math.Exp(math.Log(100) + r.Float64()*math.Log(span))
		s := starShape(r, size, n, 1e-5)
		if c%2 == 1 {
			// A spike pushed past the far side's outermost vertex must
			// cross its boundary; a shallower one may stay inside the
			// star and leave the ring simple. The large stars, too few
			// to leave it to chance, are always pushed past.
			depth := 0.1 + 0.8*r.Float64()
			if n == 10_000 {
				depth = 1.1 + 0.4*r.Float64()
			}
			s.radii[r.IntN(n)] = -size / 2 * depth
		}
		lls := s.vertices(center)
		v := points(lls)
		what := fmt.Sprintf("star #%d of %d vertices", c, n)
		if n <= 2000 {
			checkSweep(t, what, v)
			continue
		}
		i, _ := ringCrossing(v, buildTree(v), -1)
		crossed := i >= 0
		if crossed {
			crossings++
		}
		if i, j := sweepCrossing(v); (i >= 0) != crossed {
			t.Fatalf("%s: sweepCrossing = %d, %d; the tree's traversal finds a crossing: %v", what, i, j, crossed)
		} else {
			checkPair(t, what, v, i, j)
		}
		// A ring that crosses itself may be refused first for another
		// reason, such as doubling back.
		_, err := newPolygon(lls, true)
		if crossed && err == nil || !crossed && err != nil && strings.Contains(err.Message, "crosses itself") {
			t.Fatalf("%s: the tree's traversal finds a crossing: %v; newPolygon: %v", what, crossed, err)
		}
	}
	if !testing.Short() && crossings == 0 {
		t.Errorf("no star of 10,000 vertices crossed itself")
	}
}

// FuzzSelfCrossing compares selfCrossing and sweepCrossing with the
// all-pairs oracle on rings drawn from a coarse grid, where vertices often
// lie exactly on meridians, the equator, each other's edges or one
// another. The first three bytes set the grid's spacing and centre, each
// further pair a vertex. The seed corpus is in
// testdata/fuzz/FuzzSelfCrossing.
func FuzzSelfCrossing(f *testing.F) {
	f.Add([]byte{0, 128, 128, 0, 0, 16, 0, 16, 16, 0, 16})
	f.Add([]byte{3, 128, 128, 0, 0, 16, 16, 0, 16, 16, 0})
	f.Add([]byte{20, 255, 0, 0, 0, 8, 0, 8, 8, 4, 0, 0, 8})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 3+2*4 || len(data) > 3+2*300 {
			return
		}
		step := 90 / math.Pow(2, float64(data[0]%48))
		lat0, lng0 := (float64(data[1])-128)/128*90, (float64(data[2])-128)/128*180
		var lls [][2]float64
		for b := data[3:]; len(b) >= 2; b = b[2:] {
			lat := max(-90, min(90, lat0+step*float64(int8(b[0]))/16))
			lng := math.Mod(lng0+step*float64(int8(b[1]))/16+540, 360) - 180
			lls = append(lls, [2]float64{lat, lng})
		}
		v := points(lls)
		if !validEdges(v) {
			return
		}
		checkSweep(t, "fuzzed ring", v)
	})
}

// TestSelfCrossingBudget checks the division of labour of selfCrossing on
// the benchmark rings: the tree settles the circle-like ring within its
// budget, and gives up on the spiky star, which the sweep then settles;
// without a budget the tree would spend quadratic time on it.
func TestSelfCrossingBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("rings of 10,000 vertices")
	}
	rings := benchRings()
	for name, givesUp := range map[string]bool{"circle": false, "spiky-star": true} {
		v := rings[name]
		tree := buildTree(v)
		if i, _ := ringCrossing(v, tree, treeBudget*len(v)); (i == -2) != givesUp {
			t.Errorf("%s: the budgeted tree returns %d; giving up expected: %v", name, i, givesUp)
		}
		if i, j := selfCrossing(v, tree); i != -1 {
			t.Errorf("%s: selfCrossing = %d, %d on a simple ring", name, i, j)
		}
	}
}

// BenchmarkParseSpikyStar parses one volume whose outline is the spiky
// star of benchRings' kind, 10,000 vertices: the cost a caller imposes
// with a quarter of a megabyte of request body.
//
//	go test -run '^$' -bench ParseSpikyStar -benchtime 10x -count 3 ./geo
func BenchmarkParseSpikyStar(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	at := benchStart
	w := []deconflict.Volume4D{wireVolume(starShape(r, 20_000, 10_000, 1e-4).wire(fromDegrees(34.5, 35.2)), 0, 100, at, at.Add(time.Hour))}
	for b.Loop() {
		if _, err := ParseVolumes(w, "volumes"); err != nil {
			b.Fatal(err)
		}
	}
}
