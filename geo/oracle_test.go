package geo

import "math"

// The oracle: the geometry of contract section 3 by brute force, in plain
// 3-vector math, written without s2 so that it shares no code (and no
// bugs) with the implementation under test.

type vec [3]float64

func (a vec) add(b vec) vec       { return vec{a[0] + b[0], a[1] + b[1], a[2] + b[2]} }
func (a vec) sub(b vec) vec       { return vec{a[0] - b[0], a[1] - b[1], a[2] - b[2]} }
func (a vec) scale(k float64) vec { return vec{a[0] * k, a[1] * k, a[2] * k} }
func (a vec) dot(b vec) float64   { return a[0]*b[0] + a[1]*b[1] + a[2]*b[2] }
func (a vec) norm() float64       { return math.Sqrt(a.dot(a)) }
func (a vec) unit() vec           { return a.scale(1 / a.norm()) }
func (a vec) cross(b vec) vec {
	return vec{a[1]*b[2] - a[2]*b[1], a[2]*b[0] - a[0]*b[2], a[0]*b[1] - a[1]*b[0]}
}

func fromDegrees(lat, lng float64) vec {
	φ, λ := lat*math.Pi/180, lng*math.Pi/180
	return vec{math.Cos(φ) * math.Cos(λ), math.Cos(φ) * math.Sin(λ), math.Sin(φ)}
}

func toDegrees(v vec) (lat, lng float64) {
	v = v.unit()
	return math.Atan2(v[2], math.Hypot(v[0], v[1])) * 180 / math.Pi, math.Atan2(v[1], v[0]) * 180 / math.Pi
}

// normal returns a normal of the great circle through a and b, a×b up to
// a factor, computed as (a+b)×(b-a) to stay accurate when a and b are
// close together.
func normal(a, b vec) vec { return a.add(b).cross(b.sub(a)) }

// side returns the sign of c's side of the great circle from a to b:
// positive to the left.
func side(a, b, c vec) float64 { return math.Copysign(1, c.dot(normal(a, b))) }

// angle returns the angle between two unit vectors, accurately at all
// sizes.
func angle(a, b vec) float64 { return math.Atan2(a.cross(b).norm(), a.dot(b)) }

// oShape is a footprint as the oracle sees it.
type oShape struct {
	circle bool
	c      vec
	r      float64 // radians
	ring   []vec   // as given, closing vertex dropped
	left   bool    // the interior is to the left of the ring's direction
}

func oCircle(lat, lng, radiusM float64) oShape {
	return oShape{circle: true, c: fromDegrees(lat, lng), r: radiusM / EarthRadiusM}
}

// oPolygon builds a simple ring. By Gauss-Bonnet the region to the left
// of a simple ring has area 2π minus the sum of its turning angles; the
// interior is the smaller region.
func oPolygon(lls [][2]float64) oShape {
	if n := len(lls); n > 1 && lls[0] == lls[n-1] {
		lls = lls[:n-1]
	}
	s := oShape{}
	for _, ll := range lls {
		s.ring = append(s.ring, fromDegrees(ll[0], ll[1]))
	}
	var turns float64
	n := len(s.ring)
	for i := range n {
		turns += turn(s.ring[(i+n-1)%n], s.ring[i], s.ring[(i+1)%n])
	}
	area := 2*math.Pi - turns // of the region to the left
	s.left = area <= 2*math.Pi
	return s
}

// turn returns the signed turn (left positive) at b of the path a, b, c
// along great circles.
func turn(a, b, c vec) float64 {
	in := a.cross(b).cross(b)  // direction of travel at b, arriving from a
	out := b.cross(c).cross(b) // direction of travel at b, leaving for c
	return math.Atan2(b.dot(in.cross(out)), in.dot(out))
}

// leftContains reports whether p lies in the region to the left of the
// ring: it walks from a point just left of the middle of the first edge
// to p along great circles and counts the edges it crosses.
func leftContains(ring []vec, p vec) bool {
	n0 := normal(ring[0], ring[1]).unit() // points to the left of edge 0
	q := ring[0].add(ring[1]).unit().add(n0.scale(1e-9)).unit()
	path := []vec{q, p}
	if angle(q, p) > 2.5 { // too close to antipodal for one arc
		w := q.cross(p)
		if w.norm() < 1e-6 {
			w = q.cross(vec{1, 0, 0})
			if w.norm() < 1e-6 {
				w = q.cross(vec{0, 1, 0})
			}
		}
		path = []vec{q, w.unit(), p}
	}
	inside := true
	n := len(ring)
	for k := 0; k+1 < len(path); k++ {
		for i := range n {
			if arcsCross(path[k], path[k+1], ring[i], ring[(i+1)%n]) {
				inside = !inside
			}
		}
	}
	return inside
}

func (s oShape) contains(p vec) bool {
	if s.circle {
		return angle(s.c, p) <= s.r
	}
	return leftContains(s.ring, p) == s.left
}

// onArc reports whether x, on the great circle of a and b with normal n,
// lies between them.
func onArc(x, a, b, n vec) bool { return a.cross(x).dot(n) >= 0 && x.cross(b).dot(n) >= 0 }

// arcDistance returns the distance from p to the shorter arc from a to b:
// to the closest point of its great circle if that lies on the arc, else
// to the nearer end.
func arcDistance(p, a, b vec) float64 {
	n := normal(a, b).unit()
	q := p.sub(n.scale(p.dot(n)))
	if q.norm() > 1e-300 {
		q = q.unit()
		if onArc(q, a, b, n) {
			return angle(p, q)
		}
	}
	return math.Min(angle(p, a), angle(p, b))
}

// arcsCross reports whether two arcs cross: as with planar segments,
// each must have the ends of the other on opposite sides, and the four
// triangles a0 b0 a1, a1 b1 a0, b0 a1 b1, b1 a0 b0 must turn the same
// way, which rules out the great circles meeting only on the far side.
func arcsCross(a0, a1, b0, b1 vec) bool {
	s := -side(a0, a1, b0)
	return s == side(a0, a1, b1) && s == -side(b0, b1, a1) && s == side(b0, b1, a0)
}

// pointDist returns the distance from p to polygon s: 0 inside, else to
// its nearest edge.
func (s oShape) pointDist(p vec) float64 {
	if s.contains(p) {
		return 0
	}
	d := math.Inf(1)
	n := len(s.ring)
	for i := range n {
		d = math.Min(d, arcDistance(p, s.ring[i], s.ring[(i+1)%n]))
	}
	return d
}

// oDistance returns the surface distance between two shapes in radians,
// 0 if they intersect.
func oDistance(f, g oShape) float64 {
	switch {
	case f.circle && g.circle:
		return math.Max(0, angle(f.c, g.c)-f.r-g.r)
	case f.circle:
		return math.Max(0, g.pointDist(f.c)-f.r)
	case g.circle:
		return math.Max(0, f.pointDist(g.c)-g.r)
	}
	if f.contains(g.ring[0]) || g.contains(f.ring[0]) {
		return 0
	}
	n, m := len(f.ring), len(g.ring)
	d := math.Inf(1)
	for i := range n {
		a0, a1 := f.ring[i], f.ring[(i+1)%n]
		for j := range m {
			b0, b1 := g.ring[j], g.ring[(j+1)%m]
			if arcsCross(a0, a1, b0, b1) {
				return 0
			}
			d = math.Min(d, math.Min(arcDistance(a0, b0, b1), arcDistance(b0, a0, a1)))
		}
	}
	return d
}
