package geo

import (
	"math"
	"slices"

	"github.com/golang/geo/r3"
	"github.com/golang/geo/s2"
)

// selfCrossing returns two non-adjacent edges of a ring that meet, or
// -1, -1, in O(n log n) time for n vertices. A small ring, without a
// tree, compares all pairs. A larger one first tries its tree, which is
// fastest on most rings, for a number of steps linear in n; a ring it
// cannot settle by then goes to sweepCrossing.
func selfCrossing(v []s2.Point, tree []node) (int, int) {
	if tree == nil {
		return pairCrossing(v, 0, len(v), 0, len(v))
	}
	if i, j := ringCrossing(v, tree, treeBudget*len(v)); i != -2 {
		return i, j
	}
	if i, j := sweepCrossing(v); i != -2 {
		return i, j
	}
	return ringCrossing(v, tree, -1)
}

// treeBudget, times the number of vertices, bounds the work of
// selfCrossing's first try (see ringCrossing). A circle-like ring of
// 10,000 vertices needs 11 per vertex, so the tree keeps the rings it is
// good at, and a spiky star wastes only a fraction of its sweep's time.
const treeBudget = 32

// sweepCrossing returns two non-adjacent edges of a ring that meet, or
// -1, -1, in O(n log n) time for n vertices. It finds a pair exactly when
// pairCrossing over all pairs does (not always the same pair), and it
// checks each pair it reports with the same test, meets. (It returns
// -2, -2 if its order ever proved inconsistent, which exact predicates
// rule out.)
//
// It is the Shamos–Hoey sweep, run on the sphere. A half great circle (a
// meridian) turns about an axis. An edge is an arc shorter than a half
// circle; one that misses the axis meets each meridian of the azimuths it
// spans exactly once, so the edges alive under the sweep are ordered from
// one end of the axis to the other. Just before the first crossing the
// sweep reaches, the edges that cross there (two or more, none of them
// adjacent: adjacent edges meet only at their shared vertex) are
// neighbours in that order, and became neighbours when one was inserted
// or an edge between them was removed. Checking every new pair of
// neighbours therefore finds a crossing if there is one, with O(n)
// checks and O(n log n) comparisons.
//
// Every decision of the sweep is the sign of a determinant of three
// points, vertices of the ring or the two points of sweepFrame, taken
// with s2.RobustSign. RobustSign is exact and breaks ties by symbolic
// perturbation, the same that s2.CrossingSign uses, so the sweep and its
// checks see one configuration in general position: no vertex on the
// axis or on a non-incident edge, no two vertices at the same azimuth.
// Rounding can neither misorder edges nor hide a crossing. Perturbation
// needs distinct points: rings with two vertices at the same point are
// settled by duplicateCrossing.
//
// A turn has no start: edges that span the azimuth where it begins are
// alive there already. So the sweep turns twice. In the first turn an
// edge is inserted at its first vertex in the sweep's direction and
// removed at its last, unless it wraps past the start: then its removal
// falls in the second turn, which inserts every edge again. From the
// start of the second turn the edges alive are exactly those spanning the
// sweep's azimuth, each once, so the second turn passes every crossing
// with the edges in their true order.
func sweepCrossing(v []s2.Point) (int, int) {
	n := len(v)
	if n < 4 {
		return -1, -1 // all edges of a triangle are adjacent
	}
	seen := make(map[r3.Vector]int, n)
	for i, p := range v {
		if j, ok := seen[p.Vector]; ok {
			return duplicateCrossing(v, j, i)
		}
		seen[p.Vector] = i
	}
	s := &sweep{v: v, n: n}
	s.axis, s.start = sweepFrame(v, seen)
	return s.run()
}

// sweepFrame returns the axis of a sweep over ring v and the point that
// sets where its turn starts. Vertices at equal azimuths, or on the
// start's half-plane, send RobustSign to its exact path, a hundred times
// slower; so both points are drawn from a hash of every coordinate of the
// ring, and no ring can be built to put many of its vertices there. They
// are apart from each other and differ from every vertex, as the
// perturbation needs distinct points.
func sweepFrame(v []s2.Point, seen map[r3.Vector]int) (axis, start s2.Point) {
	h := uint64(0x9e3779b97f4a7c15)
	for _, p := range v {
		h = mix(h ^ math.Float64bits(p.X))
		h = mix(h ^ math.Float64bits(p.Y))
		h = mix(h ^ math.Float64bits(p.Z))
	}
	draw := func() s2.Point {
		for {
			var c [3]float64
			for k := range c {
				h = mix(h + 0x9e3779b97f4a7c15)
				c[k] = float64(h>>11)/(1<<52) - 1 // in [-1, 1)
			}
			if p := (r3.Vector{X: c[0], Y: c[1], Z: c[2]}); p.Norm() > 0.1 && !seenPoint(seen, s2.Point{Vector: p.Normalize()}) {
				return s2.Point{Vector: p.Normalize()}
			}
		}
	}
	axis = draw()
	for start = draw(); axis.Cross(start.Vector).Norm() < 0.1; start = draw() {
	}
	return axis, start
}

// mix is the finaliser of SplitMix64, a bijection that scatters bits.
func mix(x uint64) uint64 {
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

func seenPoint(seen map[r3.Vector]int, p s2.Point) bool {
	_, ok := seen[p.Vector]
	return ok
}

// duplicateCrossing settles a ring in which vertices i < k are the same
// point. Of edges i-1 and k, and edges i and k-1, each pair shares that
// point, so CrossingSign reports it as MaybeCross; for n ≥ 5 at least
// one pair is non-adjacent. Smaller rings are compared in full.
func duplicateCrossing(v []s2.Point, i, k int) (int, int) {
	n := len(v)
	for _, p := range [2][2]int{{(i + n - 1) % n, k}, {i, k - 1}} {
		a, b := min(p[0], p[1]), max(p[0], p[1])
		if a != b && !adjacent(a, b, n) && meets(v, a, b) {
			return a, b
		}
	}
	return pairCrossing(v, 0, n, 0, n)
}

// adjacent reports whether edges a and b of a ring of n share a vertex.
func adjacent(a, b, n int) bool {
	d := (a - b + n) % n
	return d == 1 || d == n-1
}

// meets reports whether edges i and j of a ring meet: the test of
// pairCrossing for one pair.
func meets(v []s2.Point, i, j int) bool {
	n := len(v)
	a0, a1, b0, b1 := v[i], v[(i+1)%n], v[j], v[(j+1)%n]
	if oneSide(a0.Cross(a1.Vector), b0, b1) || oneSide(b0.Cross(b1.Vector), a0, a1) {
		return false
	}
	return s2.CrossingSign(a0, a1, b0, b1) != s2.DoNotCross
}

// sweep is the state of sweepCrossing.
type sweep struct {
	v     []s2.Point
	n     int
	axis  s2.Point // the sweep turns counterclockwise about it
	start s2.Point // with axis, the half-plane where the turn starts

	// Edge e joins vertices e and e+1; lo[e] is the one it starts from in
	// the sweep's direction, hi[e] the other, and wraps[e] says it spans
	// the start of the turn.
	lo, hi []int32
	wraps  []bool

	at     int32 // the vertex under the sweep
	status avl   // the alive edges, from the axis outwards
}

func (s *sweep) run() (int, int) {
	n := s.n
	order := make([]int32, n)
	half := make([]bool, n) // vertex in the second half of the turn
	for i := range order {
		order[i] = int32(i)
		half[i] = s2.RobustSign(s.axis, s.start, s.v[i]) == s2.Clockwise
	}
	slices.SortFunc(order, func(a, b int32) int {
		switch {
		case half[a] != half[b]:
			if half[a] {
				return 1
			}
			return -1
		case s2.RobustSign(s.v[a], s.v[b], s.axis) == s2.CounterClockwise:
			return -1
		}
		return 1 // a != b, and perturbation leaves no ties
	})
	rank := make([]int32, n)
	for r, i := range order {
		rank[i] = int32(r)
	}
	s.lo, s.hi, s.wraps = make([]int32, n), make([]int32, n), make([]bool, n)
	for e := range n {
		a, b := int32(e), int32((e+1)%n)
		if s2.RobustSign(s.v[a], s.v[b], s.axis) == s2.Clockwise {
			a, b = b, a
		}
		s.lo[e], s.hi[e], s.wraps[e] = a, b, rank[b] < rank[a]
	}
	s.status = newAVL(n, s.beyond)

	for turn := range 2 {
		for _, w := range order {
			s.at = w
			edges := [2]int32{(w + int32(n) - 1) % int32(n), w}
			for _, e := range edges {
				if s.hi[e] == w && (turn == 1 || !s.wraps[e]) {
					p, q := s.status.neighbours(e)
					if !s.status.remove(e) {
						return -2, -2 // cannot happen: see remove
					}
					if i, j := s.check(p, q); i >= 0 {
						return i, j
					}
				}
			}
			for _, e := range edges {
				if s.lo[e] == w {
					s.status.insert(e)
					p, q := s.status.neighbours(e)
					if i, j := s.check(p, e); i >= 0 {
						return i, j
					}
					if i, j := s.check(e, q); i >= 0 {
						return i, j
					}
				}
			}
		}
	}
	return -1, -1
}

// check returns edges a and b if both exist, are not adjacent and meet.
func (s *sweep) check(a, b int32) (int, int) {
	if a < 0 || b < 0 || adjacent(int(a), int(b), s.n) || !meets(s.v, int(a), int(b)) {
		return -1, -1
	}
	return int(min(a, b)), int(max(a, b))
}

// beyond reports whether edge e lies farther from the axis than edge t
// where the sweep stands: at vertex s.at, an end of e, over which t is
// alive. If t has an end there too, it is the vertex's other edge, and
// both start there or both end there (removals come before insertions);
// the two are then compared just beside the vertex, where e lies on the
// side of t's great circle that holds e's other end.
func (s *sweep) beyond(e, t int32) bool {
	w := s.at
	tl, th := s.v[s.lo[t]], s.v[s.hi[t]]
	var p s2.Point
	switch w {
	case s.lo[t], s.hi[t]:
		p = s.v[s.lo[e]+s.hi[e]-w] // e's other end
	default:
		p = s.v[w]
	}
	// t runs counterclockwise about the axis, so the axis lies to its
	// left; p is farther from the axis than t when it lies to its right.
	return s2.RobustSign(tl, th, p) == s2.Clockwise
}
