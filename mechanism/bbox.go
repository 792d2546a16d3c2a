package mechanism

import (
	"math"

	"github.com/golang/geo/r1"
	"github.com/golang/geo/s1"
	"github.com/golang/geo/s2"
)

// BBox is a latitude-longitude box in degrees, as in GET
// /v1/operations?bbox=minlng,minlat,maxlng,maxlat. A box whose MinLng is
// greater than its MaxLng crosses the antimeridian; MinLng -180 with
// MaxLng 180 is every longitude.
type BBox struct {
	MinLng, MinLat, MaxLng, MaxLat float64
}

// rect returns the box as the spherical rectangle the index tests
// footprints against.
func (b BBox) rect() s2.Rect {
	lat := r1.Interval{Lo: (s1.Angle(b.MinLat) * s1.Degree).Radians(), Hi: (s1.Angle(b.MaxLat) * s1.Degree).Radians()}
	lng := s1.IntervalFromEndpoints((s1.Angle(b.MinLng) * s1.Degree).Radians(), (s1.Angle(b.MaxLng) * s1.Degree).Radians())
	switch {
	case b.MinLng == -180 && b.MaxLng == 180:
		lng = s1.FullInterval()
	case lng.IsEmpty():
		// 180 to -180, or -180 to -180: a box of no width on the
		// antimeridian, which IntervalFromEndpoints makes empty.
		lng = s1.Interval{Lo: math.Pi, Hi: math.Pi}
	}
	return s2.Rect{Lat: lat, Lng: lng}
}
