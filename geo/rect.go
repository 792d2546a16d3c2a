package geo

import (
	"math"

	"github.com/golang/geo/s1"
	"github.com/golang/geo/s2"
)

// rectSlack widens the bounding caps of footprints when they are compared
// with a rectangle, so that the rounding of either never hides a meeting.
const rectSlack = s1.Angle(1e-9) // about 6 mm

// AppendMeetingRect appends to ids the IDs of the entries with a footprint
// that may meet r: every entry with a footprint f for which
// f.IntersectsRect(r) holds is appended, and perhaps a few others (those
// whose bounding cap meets r while their footprint does not). A list by
// box asks the index for these candidates instead of parsing every
// operation in the store, then decides each exactly.
func (ix *Index) AppendMeetingRect(ids []string, r s2.Rect) []string {
	return ix.AppendMeetingRectDuring(ids, r, math.Inf(-1), math.Inf(1))
}

// AppendMeetingRectDuring is AppendMeetingRect for the entries whose
// volumes, taken together, span a window that reaches into [start, end]
// (seconds since the Unix epoch; infinite for no bound): those a list by
// box and time window may show. The window leaves out most entries with
// two comparisons, before any geometry.
func (ix *Index) AppendMeetingRectDuring(ids []string, r s2.Rect, start, end float64) []string {
	if r.IsEmpty() {
		return ids
	}
	start, end = start-timeSlack, end+timeSlack
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	for i := range ix.hulls {
		// The hulls are scanned in order and tested first; an entry
		// (elsewhere in memory) is looked at only if its hull passes.
		// A free slot's hull spans no time at all.
		h := &ix.hulls[i]
		if h.end < start || h.start > end {
			continue
		}
		// Every point of the hull lies within its radius of its centre,
		// so within that many radians of latitude.
		lat, reach := math.Asin(max(-1, min(1, h.center.Z))), float64(h.radius+rectSlack)
		if lat+reach < r.Lat.Lo || lat-reach > r.Lat.Hi {
			continue
		}
		e := &ix.entries[i]
		if e.id == "" {
			continue // a free slot
		}
		for _, v := range e.vols {
			if mayMeetRect(v.fp, r) {
				ids = append(ids, e.id)
				break
			}
		}
	}
	return ids
}

// mayMeetRect reports whether f.IntersectsRect(r) may hold. A polygon's
// IntersectsRect compares its rectangle bound with r; the polygon lies in
// its bounding cap, so its rectangle bound lies in the cap's (widened by
// rectSlack for rounding), which is cheaper to find than the polygon's.
// When the cap holds a pole or passes 90° the answer is IntersectsRect
// itself.
func mayMeetRect(f *Footprint, r s2.Rect) bool {
	if f.circle || f.boundR >= math.Pi/2 || f.bound.ContainsPoint(s2.Point{Vector: northPole}) ||
		f.bound.ContainsPoint(s2.Point{Vector: southPole}) {
		return f.IntersectsRect(r)
	}
	return s2.CapFromCenterAngle(f.bound.Center(), f.boundR+rectSlack).RectBound().Intersects(r)
}
