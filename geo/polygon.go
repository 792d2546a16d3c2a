package geo

import (
	"math"

	"github.com/deconflict/deconflict"
	"github.com/golang/geo/s1"
	"github.com/golang/geo/s2"
)

// Limits of the contract on polygons.
const (
	MinVertices  = 3
	minAreaM2    = 1.0   // rings enclosing less are degenerate
	foldSlack    = 1e-10 // radians (0.6 mm): edges closer than this overlap
	antipodSlack = 1e-9  // |a+b| below this: a and b are antipodal
)

// vertexKey identifies a vertex up to the two ways of writing one point:
// any longitude at a pole, and longitude -180 for 180.
func vertexKey(lat, lng float64) [2]float64 {
	if lat == 90 || lat == -90 {
		lng = 0
	}
	if lng == -180 {
		lng = 180
	}
	return [2]float64{lat, lng}
}

// NewPolygon builds a polygon footprint from vertices in degrees, as
// ParseVolumes does; errors name fields relative to the polygon, such as
// "vertices[3].lat".
func NewPolygon(vertices []s2.LatLng) (*Footprint, error) {
	lls := make([][2]float64, len(vertices))
	for i, v := range vertices {
		lls[i] = [2]float64{v.Lat.Degrees(), v.Lng.Degrees()}
		if err := checkLatLng(lls[i][0], lls[i][1], indexField("vertices", i)); err != nil {
			return nil, err
		}
	}
	f, err := newPolygon(lls, true)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// newPolygon validates a ring of valid latitude-longitude pairs (degrees)
// and builds its footprint, with the cells it is filed under if filed.
func newPolygon(lls [][2]float64, filed bool) (*Footprint, *deconflict.Error) {
	n := len(lls)
	if n > 1 && vertexKey(lls[0][0], lls[0][1]) == vertexKey(lls[n-1][0], lls[n-1][1]) {
		n-- // the ring repeats its first vertex at the end
	}
	if n > deconflict.MaxVertices {
		return nil, tooLarge("vertices", "a polygon may have at most %d vertices, not %d", deconflict.MaxVertices, n)
	}
	if n < MinVertices {
		return nil, invalid("vertices", "a polygon needs at least %d distinct vertices, not %d", MinVertices, n)
	}
	if i, j := repeated(lls[:n]); i >= 0 {
		return nil, invalid(indexField("vertices", i), "vertex %d repeats vertex %d", i, j)
	}
	pts := make([]s2.Point, n)
	for i, ll := range lls[:n] {
		pts[i] = s2.PointFromLatLng(s2.LatLngFromDegrees(ll[0], ll[1]))
	}
	if err := checkEdges(pts); err != nil {
		return nil, err
	}
	loop := s2.LoopFromPoints(pts)
	inverted := !loop.IsNormalized()
	if inverted {
		loop.Invert() // the interior is the smaller region
	}
	// orig maps an edge of the (possibly inverted) loop to the input.
	orig := func(e int) int {
		if inverted {
			return ((n-2-e)%n + n) % n
		}
		return e
	}
	verts := loop.Vertices()
	var tree []node
	if n > treeMin {
		tree = buildTree(verts)
	}
	if i, j := selfCrossing(verts, tree); i >= 0 {
		i, j = orig(i), orig(j)
		return nil, invalid("vertices", "the ring crosses itself: the edge from vertex %d to %d meets the edge from vertex %d to %d",
			min(i, j), (min(i, j)+1)%n, max(i, j), (max(i, j)+1)%n)
	}
	if a := loop.Area(); min(a, 4*math.Pi-a)*EarthRadiusM*EarthRadiusM < minAreaM2 {
		return nil, invalid("vertices", "the ring encloses no area (less than %g m²)", minAreaM2)
	}
	f := &Footprint{verts: verts, originInside: loop.ContainsOrigin(), tree: tree}
	f.bound = loopBound(loop, verts)
	f.boundR = f.bound.Radius()
	if filed {
		f.cells = capCells(f.bound.Center(), f.boundR)
	}
	return f, nil
}

// loopBound returns a tight cap around a normalised loop: centred on the
// mean of its vertices and reaching its farthest vertex. A cap of radius
// under 90 degrees is geodesically convex, so it holds every edge; its
// complement is then connected and larger than a hemisphere, so the
// (smaller) interior lies inside it too. Larger loops fall back to the
// cap of s2's bounding rectangle.
func loopBound(loop *s2.Loop, verts []s2.Point) s2.Cap {
	var sum s2.Point
	for _, v := range verts {
		sum.Vector = sum.Vector.Add(v.Vector)
	}
	if sum.Norm() > 1e-6*float64(len(verts)) {
		c := s2.Point{Vector: sum.Normalize()}
		var r s1.Angle
		for _, v := range verts {
			r = max(r, c.Distance(v))
		}
		if r < math.Pi/2-1e-6 {
			return s2.CapFromCenterAngle(c, r+capSlack)
		}
	}
	return loop.CapBound().Expanded(capSlack)
}

// repeated returns the first vertex i that repeats an earlier vertex j,
// or -1, -1.
func repeated(lls [][2]float64) (i, j int) {
	if len(lls) <= 32 {
		for i := range lls {
			for j := range i {
				if vertexKey(lls[i][0], lls[i][1]) == vertexKey(lls[j][0], lls[j][1]) {
					return i, j
				}
			}
		}
		return -1, -1
	}
	seen := make(map[[2]float64]int, len(lls))
	for i, ll := range lls {
		k := vertexKey(ll[0], ll[1])
		if j, ok := seen[k]; ok {
			return i, j
		}
		seen[k] = i
	}
	return -1, -1
}

// checkEdges rejects edges between antipodal vertices, whose arc is
// undefined, and rings that double back along an edge.
func checkEdges(p []s2.Point) *deconflict.Error {
	n := len(p)
	for i := range n {
		a, b, c := p[(i+n-1)%n], p[i], p[(i+1)%n]
		if b.Add(c.Vector).Norm() < antipodSlack {
			return invalid(indexField("vertices", (i+1)%n), "vertices %d and %d are antipodal, so the edge between them is undefined", i, (i+1)%n)
		}
		if math.Abs(float64(s2.TurnAngle(a, b, c))) > math.Pi/2 &&
			(s2.DistanceFromSegment(c, a, b) < foldSlack || s2.DistanceFromSegment(a, b, c) < foldSlack) {
			return invalid(indexField("vertices", i), "the ring doubles back on itself at vertex %d", i)
		}
	}
	return nil
}

// ringCrossing returns two non-adjacent edges of a ring that meet, or
// -1, -1. With a tree it compares only edges in caps that touch. That is
// fast on most rings but quadratic on some, such as spiky stars whose
// caps all overlap; once it has spent budget (no limit if budget < 0),
// counting one for each visit to a pair of nodes and one for each pair of
// edges compared, it gives up and returns -2, -2.
func ringCrossing(v []s2.Point, tree []node, budget int) (int, int) {
	if tree == nil {
		return pairCrossing(v, 0, len(v), 0, len(v))
	}
	if budget < 0 {
		budget = math.MaxInt
	}
	var visit func(a, b int32) (int, int)
	visit = func(a, b int32) (int, int) {
		if budget--; budget < 0 {
			return -2, -2
		}
		na, nb := &tree[a], &tree[b]
		switch {
		case a != b && gap(na, nb) > capSlack:
			return -1, -1
		case na.leaf() && nb.leaf():
			if budget -= int(na.hi-na.lo) * int(nb.hi-nb.lo); budget < 0 {
				return -2, -2
			}
			return pairCrossing(v, int(na.lo), int(na.hi), int(nb.lo), int(nb.hi))
		case a == b:
			l, r := a+1, na.right
			for _, p := range [3][2]int32{{l, l}, {r, r}, {l, r}} {
				if i, j := visit(p[0], p[1]); i != -1 {
					return i, j
				}
			}
			return -1, -1
		case nb.leaf() || (!na.leaf() && na.radius >= nb.radius):
			if i, j := visit(a+1, b); i != -1 {
				return i, j
			}
			return visit(na.right, b)
		}
		if i, j := visit(a, b+1); i != -1 {
			return i, j
		}
		return visit(a, nb.right)
	}
	return visit(0, 0)
}

// pairCrossing returns two non-adjacent edges, one in lo1..hi1-1 and one
// in lo2..hi2-1, that meet, or -1, -1.
func pairCrossing(v []s2.Point, lo1, hi1, lo2, hi2 int) (int, int) {
	n := len(v)
	for i := lo1; i < hi1; i++ {
		for j := max(lo2, i+2); j < hi2; j++ {
			if i == 0 && j == n-1 {
				continue // adjacent
			}
			a0, a1, b0, b1 := v[i], v[(i+1)%n], v[j], v[(j+1)%n]
			if oneSide(a0.Cross(a1.Vector), b0, b1) || oneSide(b0.Cross(b1.Vector), a0, a1) {
				continue
			}
			if s2.CrossingSign(a0, a1, b0, b1) != s2.DoNotCross {
				return i, j
			}
		}
	}
	return -1, -1
}
