package geo

import (
	"math"

	"github.com/golang/geo/r1"
	"github.com/golang/geo/s1"
	"github.com/golang/geo/s2"
)

// ExpandRect returns a latitude-longitude rectangle that contains every
// point within distance d (along the surface) of a point of r: the
// latitudes widened by d, and the longitudes by the most a point within d
// can differ in longitude at the rectangle's highest latitude, widened
// by rectSlack against rounding. A rectangle that reaches a pole takes
// every longitude. It is a bound, not the exact set: it may hold points
// farther than d from r, never fewer.
func ExpandRect(r s2.Rect, d s1.Angle) s2.Rect {
	if r.IsEmpty() {
		return r
	}
	d = max(d, 0) + rectSlack
	lat := r1.Interval{Lo: r.Lat.Lo - d.Radians(), Hi: r.Lat.Hi + d.Radians()}
	if lat.Lo <= -math.Pi/2 || lat.Hi >= math.Pi/2 {
		lat = r1.Interval{Lo: max(lat.Lo, -math.Pi/2), Hi: min(lat.Hi, math.Pi/2)}
		return s2.Rect{Lat: lat, Lng: s1.FullInterval()}
	}
	// A point at latitude φ reaches longitudes at most
	// asin(sin d / cos φ) away within d; that grows with |φ|.
	s := math.Sin(d.Radians()) / math.Cos(max(math.Abs(lat.Lo), math.Abs(lat.Hi)))
	if s >= 1 {
		return s2.Rect{Lat: lat, Lng: s1.FullInterval()}
	}
	return s2.Rect{Lat: lat, Lng: r.Lng.Expanded(math.Asin(s))}
}

// EntryBoundMeetingRect returns the ID of an entry of a group for which
// in is true whose bounding rectangle (of all its volumes' footprints,
// Footprint.RectBound) meets r, if there is one. A federation node uses it
// to tell whether an operation could meet the airspace of a silent peer,
// which the operations of that peer it holds are part of.
func (ix *Index) EntryBoundMeetingRect(r s2.Rect, in func(group string) bool) (string, bool) {
	if r.IsEmpty() {
		return "", false
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	for i := range ix.entries {
		e := &ix.entries[i]
		if e.id == "" || !in(e.group) {
			continue // a free slot, or another group
		}
		// The hull's cap holds every footprint, so its rectangle holds
		// their bounding rectangle: most entries are left out without
		// looking at their vertices, many by one arcsine.
		h := &ix.hulls[i]
		lat, reach := math.Asin(max(-1, min(1, h.center.Z))), float64(h.radius+rectSlack)
		if lat+reach < r.Lat.Lo || lat-reach > r.Lat.Hi {
			continue
		}
		if !s2.CapFromCenterAngle(h.center, h.radius+rectSlack).RectBound().Intersects(r) {
			continue
		}
		b := s2.EmptyRect()
		for _, v := range e.vols {
			b = b.Union(v.fp.RectBound())
		}
		if b.Intersects(r) {
			return e.id, true
		}
	}
	return "", false
}
