package http

import (
	"github.com/golang/geo/r1"
	"github.com/golang/geo/s1"
	"github.com/golang/geo/s2"
)

// rectFromDegrees returns the latitude-longitude rectangle of a bbox; if
// minLng > maxLng the rectangle crosses the antimeridian.
func rectFromDegrees(minLng, minLat, maxLng, maxLat float64) s2.Rect {
	lat := r1.Interval{Lo: (s1.Angle(minLat) * s1.Degree).Radians(), Hi: (s1.Angle(maxLat) * s1.Degree).Radians()}
	lng := s1.IntervalFromEndpoints((s1.Angle(minLng) * s1.Degree).Radians(), (s1.Angle(maxLng) * s1.Degree).Radians())
	if minLng == -180 && maxLng == 180 {
		lng = s1.FullInterval()
	}
	return s2.Rect{Lat: lat, Lng: lng}
}
