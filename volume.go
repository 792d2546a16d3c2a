package deconflict

// The wire form of a 4D volume, as ASTM F3548 defines Volume4D. Required
// numbers are pointers so that a missing field is told apart from zero.
// Package geo validates these and turns them into geometry.

// Volume4D is a footprint with an altitude band and a time window.
type Volume4D struct {
	Volume    Volume3D `json:"volume"`
	TimeStart *Time    `json:"time_start"`
	TimeEnd   *Time    `json:"time_end"`
}

// Volume3D is a footprint (exactly one of polygon or circle) with an
// altitude band.
type Volume3D struct {
	OutlinePolygon *Polygon  `json:"outline_polygon,omitempty"`
	OutlineCircle  *Circle   `json:"outline_circle,omitempty"`
	AltitudeLower  *Altitude `json:"altitude_lower"`
	AltitudeUpper  *Altitude `json:"altitude_upper"`
}

// Polygon is a ring of vertices joined by great-circle arcs.
type Polygon struct {
	Vertices []LatLng `json:"vertices"`
}

// Circle is a spherical cap: every point within Radius, measured along the
// surface, of Center.
type Circle struct {
	Center *LatLng  `json:"center"`
	Radius *Measure `json:"radius"`
}

// LatLng is a point in degrees on the WGS84 globe.
type LatLng struct {
	Lat *float64 `json:"lat"`
	Lng *float64 `json:"lng"`
}

// Measure is a distance with its units ("M").
type Measure struct {
	Value *float64 `json:"value"`
	Units string   `json:"units"`
}

// Altitude is a height with its reference ("W84") and units ("M" or "FT").
type Altitude struct {
	Value     *float64 `json:"value"`
	Reference string   `json:"reference"`
	Units     string   `json:"units"`
}

// Time is an instant with its format ("RFC3339").
type Time struct {
	Value  string `json:"value"`
	Format string `json:"format"`
}

// Float returns a pointer to v, for building volumes in code.
func Float(v float64) *float64 { return &v }
