package geo

import (
	"math"

	"github.com/deconflict/deconflict"
	"github.com/golang/geo/r3"
	"github.com/golang/geo/s1"
	"github.com/golang/geo/s2"
)

// EarthRadiusM is the radius of the spherical Earth of the contract, in
// metres.
const EarthRadiusM = 6371008.8

var (
	northPole = r3.Vector{Z: 1}
	southPole = r3.Vector{Z: -1}
)

// capSlack (radians, about 6 mm) widens bounding caps against rounding.
const capSlack = 1e-9

// Footprint is the horizontal outline of a volume: a polygon whose edges
// are great-circle arcs and whose interior is the smaller of the two
// regions its ring bounds, or a spherical cap (a circle whose radius is
// measured along the surface). A Footprint is immutable and safe for
// concurrent use. Build one with ParseVolumes, NewPolygon or NewCircle.
type Footprint struct {
	// Circle: center and radius. Polygon: verts, oriented so that the
	// interior is on the left, and whether s2.OriginPoint() is inside.
	circle       bool
	center       s2.Point
	radius       s1.Angle
	verts        []s2.Point
	originInside bool

	bound  s2.Cap      // contains the footprint
	boundR s1.Angle    // bound.Radius(), kept for speed
	tree   []node      // for rings of more than treeMin vertices
	cells  []s2.CellID // entryCells, worked out once
}

// MaxRadiusM is the largest radius of a circle, in metres.
const MaxRadiusM = 2_000_000

// NewCircle builds a circle footprint, as ParseVolumes does.
func NewCircle(center s2.LatLng, radiusM float64) (*Footprint, error) {
	if err := checkLatLng(center.Lat.Degrees(), center.Lng.Degrees(), "center"); err != nil {
		return nil, err
	}
	if err := checkRadius(radiusM, "radius.value"); err != nil {
		return nil, err
	}
	return newCircle(center.Lat.Degrees(), center.Lng.Degrees(), radiusM, true), nil
}

// newCircle builds a circle footprint, with the cells it is filed under
// if filed.
func newCircle(lat, lng, radiusM float64, filed bool) *Footprint {
	f := circleFootprint(s2.PointFromLatLng(s2.LatLngFromDegrees(lat, lng)), s1.Angle(radiusM/EarthRadiusM))
	if filed {
		f.cells = capCells(f.bound.Center(), f.boundR)
	}
	return f
}

// circleFootprint builds the circle of centre c and radius r, without
// its cells.
func circleFootprint(c s2.Point, r s1.Angle) *Footprint {
	return &Footprint{circle: true, center: c, radius: r, bound: s2.CapFromCenterAngle(c, r+capSlack), boundR: r + capSlack}
}

func checkRadius(r float64, field string) *deconflict.Error {
	if !finite(r) {
		return invalid(field, "the radius must be a finite number")
	}
	if r <= 0 || r > MaxRadiusM {
		return invalid(field, "the radius must be more than 0 m and at most %d m, not %s m", MaxRadiusM, num(r))
	}
	return nil
}

// IsCircle reports whether f is a circle rather than a polygon.
func (f *Footprint) IsCircle() bool { return f.circle }

// CapBound returns a cap that contains f: the circle itself, or for a
// polygon a cap around its vertices.
func (f *Footprint) CapBound() s2.Cap { return f.bound }

// RectBound returns a latitude-longitude rectangle that contains f.
func (f *Footprint) RectBound() s2.Rect {
	if f.circle {
		return f.bound.RectBound()
	}
	b := s2.NewRectBounder()
	for i := 0; i <= len(f.verts); i++ {
		b.AddPoint(f.verts[i%len(f.verts)])
	}
	r := b.RectBound()
	if f.ContainsPoint(s2.Point{Vector: northPole}) {
		r.Lat.Hi, r.Lng = math.Pi/2, s1.FullInterval()
	}
	if f.ContainsPoint(s2.Point{Vector: southPole}) {
		r.Lat.Lo, r.Lng = -math.Pi/2, s1.FullInterval()
	}
	return r
}

// IntersectsRect reports whether f may intersect the rectangle r, for
// filtering lists by bounding box. It is exact for circles and
// conservative for polygons: it compares r with the polygon's bounding
// rectangle, so a polygon near a corner of r may match without touching it.
func (f *Footprint) IntersectsRect(r s2.Rect) bool {
	if r.IsEmpty() {
		return false
	}
	if f.circle {
		return r.DistanceToLatLng(s2.LatLngFromPoint(f.center)) <= f.radius
	}
	return f.RectBound().Intersects(r)
}

// ContainsPoint reports whether the point p lies in f. Points on the
// boundary of a polygon follow s2's semi-open model: containment is the
// parity of the edges crossed on the way from s2.OriginPoint() to p.
func (f *Footprint) ContainsPoint(p s2.Point) bool {
	if f.circle {
		return f.center.Distance(p) <= f.radius
	}
	origin := s2.OriginPoint()
	inside := f.originInside
	c := s2.NewChainEdgeCrosser(origin, p, f.verts[0])
	if f.tree == nil {
		for i := 1; i <= len(f.verts); i++ {
			inside = inside != c.EdgeOrVertexChainCrossing(f.vertex(int32(i)))
		}
		return inside
	}
	// Only edges in caps that reach the arc from origin to p can cross it.
	stack := make([]int32, 1, 32)
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		n := &f.tree[i]
		if s2.DistanceFromSegment(n.center, origin, p) > n.radius+capSlack {
			continue
		}
		if !n.leaf() {
			stack = append(stack, n.right, i+1)
			continue
		}
		for e := n.lo; e < n.hi; e++ {
			inside = inside != c.EdgeOrVertexCrossing(f.vertex(e), f.vertex(e+1))
		}
	}
	return inside
}
