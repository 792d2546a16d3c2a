package geo

import (
	"cmp"
	"math"

	"github.com/golang/geo/r3"
	"github.com/golang/geo/s1"
	"github.com/golang/geo/s2"
)

// DistanceM returns the smallest surface distance in metres between f and
// g, and 0 when their interiors intersect (one containing the other
// included) or their boundaries touch. It is symmetric to the last bit.
func (f *Footprint) DistanceM(g *Footprint) float64 {
	return distance(f, g, s1.InfAngle()).Radians() * EarthRadiusM
}

// distance returns the distance between f and g if it is less than
// limit; otherwise it returns some lower bound of it that is at least
// limit. Results below limit do not depend on limit.
func distance(f, g *Footprint, limit s1.Angle) s1.Angle {
	if compareFootprints(f, g) > 0 {
		f, g = g, f // one order of work, so the result is symmetric
	}
	if lb := below(f.bound.Center(), g.bound.Center()) - (f.boundR + g.boundR); lb >= limit {
		return lb
	}
	switch {
	case f.circle && g.circle:
		return max(0, f.center.Distance(g.center)-(f.radius+g.radius))
	case f.circle:
		return capDistance(g, f, limit)
	case g.circle:
		return capDistance(f, g, limit)
	}
	if f.ContainsPoint(g.verts[0]) || g.ContainsPoint(f.verts[0]) {
		return 0
	}
	return ringDistance(f, g, limit)
}

// capDistance returns the distance between polygon p and circle c: that
// of the centre less the radius.
func capDistance(p, c *Footprint, limit s1.Angle) s1.Angle {
	d := pointDistance(p, c.center, limit+c.radius)
	if d >= limit+c.radius {
		return limit
	}
	return max(0, d-c.radius)
}

// compareFootprints orders footprints by content: circles first, then by
// centre and radius, or by vertex count and vertices.
func compareFootprints(f, g *Footprint) int {
	if f == g {
		return 0
	}
	if f.circle != g.circle {
		if f.circle {
			return -1
		}
		return 1
	}
	if f.circle {
		if c := comparePoints(f.center, g.center); c != 0 {
			return c
		}
		return cmp.Compare(f.radius, g.radius)
	}
	if c := cmp.Compare(len(f.verts), len(g.verts)); c != 0 {
		return c
	}
	for i := range f.verts {
		if c := comparePoints(f.verts[i], g.verts[i]); c != 0 {
			return c
		}
	}
	return 0
}

func comparePoints(a, b s2.Point) int {
	if c := cmp.Compare(a.X, b.X); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Y, b.Y); c != 0 {
		return c
	}
	return cmp.Compare(a.Z, b.Z)
}

// chord converts a limit to a chord angle, keeping infinity.
func chord(a s1.Angle) s1.ChordAngle {
	if math.IsInf(float64(a), 1) {
		return s1.InfChordAngle()
	}
	return s1.ChordAngleFromAngle(a)
}

// pointDistance returns the distance from x to polygon p (0 inside), or a
// value of at least limit if it is not less than limit.
func pointDistance(p *Footprint, x s2.Point, limit s1.Angle) s1.Angle {
	if p.ContainsPoint(x) {
		return 0
	}
	w := newWalk(limit)
	w.point(p, 0, x)
	return w.result(limit)
}

// ringDistance returns the distance between the rings of two polygons,
// given that neither contains a vertex of the other: 0 if two edges
// cross, else the least distance from a vertex of one to an edge of the
// other.
func ringDistance(a, b *Footprint, limit s1.Angle) s1.Angle {
	w := newWalk(limit)
	w.pair(a, 0, b, 0)
	return w.result(limit)
}

// walk descends the edge trees of footprints in search of the least
// distance between their edges, pruning nodes no nearer than the best so
// far.
type walk struct {
	best  s1.Angle
	chord s1.ChordAngle // best, as a chord angle
	found bool
}

// triage bounds the rounding error of a dot product of a unit vector with
// a cross product of unit vectors.
const triage = 1e-14

func newWalk(limit s1.Angle) walk { return walk{best: limit, chord: chord(limit)} }

func (w *walk) update(d s1.ChordAngle, ok bool) {
	if ok && d < w.chord {
		w.chord, w.best, w.found = d, d.Angle(), true
	}
}

func (w *walk) result(limit s1.Angle) s1.Angle {
	if !w.found {
		return limit
	}
	return w.best
}

// gap returns a lower bound of the distance between what two caps hold.
func gap(a, b *node) s1.Angle { return below(a.center, b.center) - (a.radius + b.radius) }

// below returns a lower bound of the angle between two points, cheaper
// than the angle: the chord, 2 sin(θ/2) ≤ θ, which is within θ³/24 of it.
func below(a, b s2.Point) s1.Angle { return s1.Angle(a.Sub(b.Vector).Norm()) }

// point visits node i of f's tree for the distance to x.
func (w *walk) point(f *Footprint, i int32, x s2.Point) {
	n := f.node(i)
	if n.leaf() {
		for e := n.lo; e < n.hi; e++ {
			w.update(s2.UpdateMinDistance(x, f.vertex(e), f.vertex(e+1), w.chord))
		}
		return
	}
	l, r := i+1, n.right
	dl := below(x, f.tree[l].center) - f.tree[l].radius
	dr := below(x, f.tree[r].center) - f.tree[r].radius
	if dr < dl {
		l, r, dl, dr = r, l, dr, dl
	}
	if dl < w.best {
		w.point(f, l, x)
	}
	if dr < w.best {
		w.point(f, r, x)
	}
}

// pair visits node i of a's tree and node j of b's, nearer children
// first.
func (w *walk) pair(a *Footprint, i int32, b *Footprint, j int32) {
	na, nb := a.node(i), b.node(j)
	if na.leaf() && nb.leaf() {
		w.leaves(a, &na, b, &nb)
		return
	}
	if nb.leaf() || (!na.leaf() && na.radius >= nb.radius) {
		l, r := i+1, na.right
		dl, dr := gap(&a.tree[l], &nb), gap(&a.tree[r], &nb)
		if dr < dl {
			l, r, dl, dr = r, l, dr, dl
		}
		if dl < w.best {
			w.pair(a, l, b, j)
		}
		if dr < w.best {
			w.pair(a, r, b, j)
		}
		return
	}
	l, r := j+1, nb.right
	dl, dr := gap(&na, &b.tree[l]), gap(&na, &b.tree[r])
	if dr < dl {
		l, r, dl, dr = r, l, dr, dl
	}
	if dl < w.best {
		w.pair(a, i, b, l)
	}
	if dr < w.best {
		w.pair(a, i, b, r)
	}
}

// leaves compares the edges of two leaves: any crossing makes the
// distance 0; otherwise it is attained at a vertex of one of them. Edges
// can cross only if the caps of the leaves meet.
func (w *walk) leaves(a *Footprint, na *node, b *Footprint, nb *node) {
	if gap(na, nb) <= 0 {
		for i := na.lo; i < na.hi; i++ {
			for j := nb.lo; j < nb.hi; j++ {
				if crosses(a.vertex(i), a.vertex(i+1), b.vertex(j), b.vertex(j+1)) {
					w.update(0, true)
					return
				}
			}
		}
	}
	w.vertices(a, na, b, nb)
	w.vertices(b, nb, a, na)
}

// crosses reports whether edges a0a1 and b0b1 cross at a point interior
// to both, trying cheap tests before s2's exact one: edges cannot cross
// if the ends of one lie on one side of the great circle of the other.
func crosses(a0, a1, b0, b1 s2.Point) bool {
	if oneSide(a0.Cross(a1.Vector), b0, b1) || oneSide(b0.Cross(b1.Vector), a0, a1) {
		return false
	}
	return s2.CrossingSign(a0, a1, b0, b1) == s2.Cross
}

// oneSide reports whether p and q lie clearly on one side of the great
// circle with normal n (a cross product of unit vectors).
func oneSide(n r3.Vector, p, q s2.Point) bool {
	s, t := n.Dot(p.Vector), n.Dot(q.Vector)
	return (s > triage && t > triage) || (s < -triage && t < -triage)
}

// vertices compares the vertices of leaf na with the edges of leaf nb.
func (w *walk) vertices(a *Footprint, na *node, b *Footprint, nb *node) {
	for i := na.lo; i <= na.hi; i++ {
		x := a.vertex(i)
		if below(x, nb.center)-nb.radius >= w.best {
			continue
		}
		for j := nb.lo; j < nb.hi; j++ {
			w.update(s2.UpdateMinDistance(x, b.vertex(j), b.vertex(j+1), w.chord))
		}
	}
}
