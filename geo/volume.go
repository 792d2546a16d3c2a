package geo

import (
	"time"

	"github.com/deconflict/deconflict"
	"github.com/golang/geo/s1"
)

// Minima are the separation minima of the mechanism: two volumes closer
// than all three conflict.
type Minima struct {
	HorizontalM float64
	VerticalM   float64
	TimeS       float64
}

// MinimaOf returns the separation minima of the settings.
func MinimaOf(s deconflict.Settings) Minima {
	return Minima{HorizontalM: s.HorizontalM, VerticalM: s.VerticalM, TimeS: s.TimeS}
}

// Volume is a validated 4D volume: a footprint, an altitude band in metres
// above the WGS84 ellipsoid, and a time window. ParseVolumes makes them;
// one built in code needs a Footprint from NewPolygon or NewCircle,
// LowerM <= UpperM and Start before End.
type Volume struct {
	Footprint      *Footprint
	LowerM, UpperM float64
	Start, End     time.Time
}

// vol is a Volume as the comparisons use it, with times as seconds since
// the Unix epoch; Gap, CompareOperations and Index all go through it so
// that they agree to the last bit.
type vol struct {
	fp           *Footprint
	lower, upper float64
	start, end   float64
}

func seconds(t time.Time) float64 {
	return float64(t.Unix()) + float64(t.Nanosecond())*1e-9
}

func toVol(v *Volume) vol {
	return vol{fp: v.Footprint, lower: v.LowerM, upper: v.UpperM, start: seconds(v.Start), end: seconds(v.End)}
}

func toVols(vs []Volume) []vol {
	out := make([]vol, len(vs))
	for i := range vs {
		out[i] = toVol(&vs[i])
	}
	return out
}

// Gap returns the separation of two volumes: the surface distance between
// their footprints (0 when they intersect), the vertical gap
// max(lower) - min(upper) and the time gap max(start) - min(end) in
// seconds. Negative gaps overlap. Gap(a, b) equals Gap(b, a).
func Gap(a, b *Volume) deconflict.Separation {
	va, vb := toVol(a), toVol(b)
	return deconflict.Separation{
		HorizontalM: distance(va.fp, vb.fp, s1.InfAngle()).Radians() * EarthRadiusM,
		VerticalM:   verticalGap(&va, &vb),
		TimeS:       timeGap(&va, &vb),
	}
}

func verticalGap(a, b *vol) float64 { return max(a.lower, b.lower) - min(a.upper, b.upper) }
func timeGap(a, b *vol) float64     { return max(a.start, b.start) - min(a.end, b.end) }

// Within reports whether a separation is closer than the minima on all
// three axes: each gap strictly less than its minimum. A horizontal gap of
// 0 (intersecting footprints) counts as closer even when the horizontal
// minimum is 0, as intersecting interiors always conflict.
func Within(s deconflict.Separation, m Minima) bool {
	return (s.HorizontalM < m.HorizontalM || s.HorizontalM == 0) &&
		s.VerticalM < m.VerticalM && s.TimeS < m.TimeS
}

// horizontalLimit is the search radius for the exact horizontal distance:
// a little over the minimum, so that a distance reported as "at least the
// limit" is never taken for one below the minimum.
func horizontalLimit(m Minima) s1.Angle {
	return s1.Angle(max(m.HorizontalM, 0)/EarthRadiusM) + 1e-12
}

// conflict reports whether two volumes conflict under m and, if so, their
// separation. Time and altitude are checked before any geometry.
func conflict(a, b *vol, m Minima, limit s1.Angle) (deconflict.Separation, bool) {
	t := timeGap(a, b)
	if !(t < m.TimeS) {
		return deconflict.Separation{}, false
	}
	v := verticalGap(a, b)
	if !(v < m.VerticalM) {
		return deconflict.Separation{}, false
	}
	d := distance(a.fp, b.fp, limit)
	if d >= limit {
		return deconflict.Separation{}, false
	}
	s := deconflict.Separation{HorizontalM: d.Radians() * EarthRadiusM, VerticalM: v, TimeS: t}
	return s, Within(s, m)
}

// less orders separations by horizontal, then vertical, then time gap.
func less(a, b deconflict.Separation) bool {
	if a.HorizontalM != b.HorizontalM {
		return a.HorizontalM < b.HorizontalM
	}
	if a.VerticalM != b.VerticalM {
		return a.VerticalM < b.VerticalM
	}
	return a.TimeS < b.TimeS
}

// CompareOperations reports whether any volume of as conflicts with any
// volume of bs under m. If so it returns the separation of the conflicting
// pair with the smallest horizontal distance (ties broken by vertical, then
// time gap), so that the answer does not depend on the order of arguments.
func CompareOperations(as, bs []Volume, m Minima) (deconflict.Separation, bool) {
	return compare(toVols(as), toVols(bs), m)
}

func compare(as, bs []vol, m Minima) (best deconflict.Separation, found bool) {
	limit := horizontalLimit(m)
	for i := range as {
		for j := range bs {
			s, ok := conflict(&as[i], &bs[j], m, limit)
			if ok && (!found || less(s, best)) {
				best, found = s, true
				// Only a pair at most as far can win from now on.
				limit = min(limit, s1.Angle(s.HorizontalM/EarthRadiusM)+1e-12)
			}
		}
	}
	return best, found
}
