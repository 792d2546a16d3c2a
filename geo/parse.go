package geo

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/deconflict/deconflict"
)

// Limits of the contract on altitudes.
const (
	MinAltitudeM = -8_000
	MaxAltitudeM = 100_000
	FootM        = 0.3048
)

// ParseVolumes validates wire volumes against contract section 3 and
// converts them. path is the field path of the list, such as "volumes".
// Errors are *deconflict.Error with code EInvalid, or ETooLarge for more
// than deconflict.MaxVolumes volumes or deconflict.MaxVertices vertices,
// and Field set to the exact path at fault, such as
// "volumes[0].volume.outline_polygon.vertices[3].lat". It does not check
// that the volumes end in the future: that needs a clock.
func ParseVolumes(vols []deconflict.Volume4D, path string) ([]Volume, error) {
	return ParseVolumesContext(context.Background(), vols, path)
}

// ParseVolumesContext is ParseVolumes, giving up with ctx's error when ctx
// ends: a request whose client has gone stops being parsed between one
// volume and the next.
func ParseVolumesContext(ctx context.Context, vols []deconflict.Volume4D, path string) ([]Volume, error) {
	return parseVolumes(ctx, vols, path, true)
}

// ParseQueryVolumesContext is ParseVolumesContext for volumes that are
// only searched with, never filed in an index (what-if checks): it leaves
// out working out the cells a footprint is filed under, which for a
// circle is most of its parse. Such a footprint filed all the same has
// its cells worked out each time they are needed.
func ParseQueryVolumesContext(ctx context.Context, vols []deconflict.Volume4D, path string) ([]Volume, error) {
	return parseVolumes(ctx, vols, path, false)
}

// parseVolumes parses vols; the footprints get the cells they are filed
// under if filed.
//
// Below it, each parse names the fields of its errors relative to what
// it parses, and its caller puts its own path in front (under): the path
// of a field is written only for an error, not for every field parsed.
func parseVolumes(ctx context.Context, vols []deconflict.Volume4D, path string, filed bool) ([]Volume, error) {
	if len(vols) == 0 {
		return nil, invalid(path, "at least one volume is required")
	}
	if len(vols) > deconflict.MaxVolumes {
		return nil, tooLarge(path, "at most %d volumes are allowed, not %d", deconflict.MaxVolumes, len(vols))
	}
	out := make([]Volume, len(vols))
	for i := range vols {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		v, err := parseVolume(&vols[i], filed)
		if err != nil {
			return nil, under(indexField(path, i), err)
		}
		out[i] = v
	}
	return out, nil
}

// under puts prefix in front of the field of err, a path relative to
// what prefix names ("" for that itself), and returns err.
func under(prefix string, err *deconflict.Error) *deconflict.Error {
	switch {
	case prefix == "":
	case err.Field == "":
		err.Field = prefix
	default:
		err.Field = prefix + "." + err.Field
	}
	return err
}

func parseVolume(w *deconflict.Volume4D, filed bool) (Volume, *deconflict.Error) {
	var v Volume
	var err *deconflict.Error
	switch poly, circle := w.Volume.OutlinePolygon, w.Volume.OutlineCircle; {
	case poly == nil && circle == nil:
		return v, invalid("volume", "one of outline_polygon or outline_circle is required")
	case poly != nil && circle != nil:
		return v, invalid("volume", "only one of outline_polygon or outline_circle may be given")
	case poly != nil:
		if v.Footprint, err = parsePolygon(poly, filed); err != nil {
			return v, under("volume.outline_polygon", err)
		}
	default:
		if v.Footprint, err = parseCircle(circle, filed); err != nil {
			return v, under("volume.outline_circle", err)
		}
	}
	if v.LowerM, err = parseAltitude(w.Volume.AltitudeLower, "altitude_lower"); err != nil {
		return v, under("volume", err)
	}
	if v.UpperM, err = parseAltitude(w.Volume.AltitudeUpper, "altitude_upper"); err != nil {
		return v, under("volume", err)
	}
	if v.LowerM > v.UpperM {
		return v, invalid("volume.altitude_upper.value", "altitude_upper (%s m) is below altitude_lower (%s m)", num(v.UpperM), num(v.LowerM))
	}
	if v.Start, err = parseTime(w.TimeStart, "time_start"); err != nil {
		return v, err
	}
	if v.End, err = parseTime(w.TimeEnd, "time_end"); err != nil {
		return v, err
	}
	if !v.Start.Before(v.End) {
		return v, invalid("time_end.value", "time_end must be after time_start")
	}
	return v, nil
}

func parsePolygon(w *deconflict.Polygon, filed bool) (*Footprint, *deconflict.Error) {
	if len(w.Vertices) > deconflict.MaxVertices+1 {
		return nil, tooLarge("vertices", "a polygon may have at most %d vertices, not %d", deconflict.MaxVertices, len(w.Vertices))
	}
	lls := make([][2]float64, len(w.Vertices))
	for i, v := range w.Vertices {
		if v.Lat == nil || v.Lng == nil || checkLatLng(*v.Lat, *v.Lng, "") != nil {
			_, _, err := parseLatLng(&w.Vertices[i])
			return nil, under(indexField("vertices", i), err)
		}
		lls[i] = [2]float64{*v.Lat, *v.Lng}
	}
	return newPolygon(lls, filed)
}

func parseCircle(w *deconflict.Circle, filed bool) (*Footprint, *deconflict.Error) {
	if w.Center == nil {
		return nil, invalid("center", "the circle needs a center")
	}
	lat, lng, err := parseLatLng(w.Center)
	if err != nil {
		return nil, under("center", err)
	}
	if w.Radius == nil {
		return nil, invalid("radius", "the circle needs a radius")
	}
	r, err := parseNumber(w.Radius.Value, "radius.value", "the radius value")
	if err != nil {
		return nil, err
	}
	if w.Radius.Units != "M" {
		return nil, invalid("radius.units", `radius units must be "M", not %q`, w.Radius.Units)
	}
	if err := checkRadius(r, "radius.value"); err != nil {
		return nil, err
	}
	return newCircle(lat, lng, r, filed), nil
}

// parseLatLng reads a point; its errors name "lat" or "lng".
func parseLatLng(w *deconflict.LatLng) (lat, lng float64, err *deconflict.Error) {
	if lat, err = parseNumber(w.Lat, "lat", "latitude"); err != nil {
		return 0, 0, err
	}
	if lng, err = parseNumber(w.Lng, "lng", "longitude"); err != nil {
		return 0, 0, err
	}
	if err := checkLatLng(lat, lng, ""); err != nil {
		return 0, 0, err
	}
	return lat, lng, nil
}

// checkLatLng checks a point of path; its errors name path's "lat" or
// "lng" (just those for path "").
func checkLatLng(lat, lng float64, path string) *deconflict.Error {
	if !finite(lat) || lat < -90 || lat > 90 {
		return under(path, invalid("lat", "latitude must be between -90 and 90, not %s", num(lat)))
	}
	if !finite(lng) || lng < -180 || lng > 180 {
		return under(path, invalid("lng", "longitude must be between -180 and 180, not %s", num(lng)))
	}
	return nil
}

// parseAltitude reads the altitude called name; its errors name name and
// its fields.
func parseAltitude(w *deconflict.Altitude, name string) (float64, *deconflict.Error) {
	if w == nil {
		return 0, invalid(name, "%s is required", name)
	}
	v, err := parseNumber(w.Value, "value", "the altitude value")
	if err != nil {
		return 0, under(name, err)
	}
	if w.Reference != "W84" {
		return 0, invalid(name+".reference", `altitude reference must be "W84", not %q`, w.Reference)
	}
	switch w.Units {
	case "M":
	case "FT":
		v *= FootM
	default:
		return 0, invalid(name+".units", `altitude units must be "M" or "FT", not %q`, w.Units)
	}
	if v < MinAltitudeM || v > MaxAltitudeM {
		return 0, invalid(name+".value", "altitude must be between %d m and %d m, not %s m", MinAltitudeM, MaxAltitudeM, num(v))
	}
	return v, nil
}

// parseTime reads the time called name; its errors name name and its
// fields.
func parseTime(w *deconflict.Time, name string) (time.Time, *deconflict.Error) {
	if w == nil {
		return time.Time{}, invalid(name, "%s is required", name)
	}
	if w.Format != "RFC3339" {
		return time.Time{}, invalid(name+".format", `time format must be "RFC3339", not %q`, w.Format)
	}
	if w.Value == "" {
		return time.Time{}, invalid(name+".value", "the value of %s is required", name)
	}
	t, err := time.Parse(time.RFC3339, w.Value)
	if err != nil {
		return time.Time{}, invalid(name+".value", "%q is not an RFC 3339 time such as 2026-11-25T12:00:00Z", w.Value)
	}
	return t, nil
}

func parseNumber(v *float64, path, name string) (float64, *deconflict.Error) {
	if v == nil {
		return 0, invalid(path, "%s is required", name)
	}
	if !finite(*v) {
		return 0, invalid(path, "%s must be a finite number", name)
	}
	return *v, nil
}

// num formats a number for a message, without exponents.
func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func indexField(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

func invalid(field, format string, args ...any) *deconflict.Error {
	return deconflict.FieldErrorf(deconflict.EInvalid, field, format, args...)
}

func tooLarge(field, format string, args ...any) *deconflict.Error {
	return deconflict.FieldErrorf(deconflict.ETooLarge, field, format, args...)
}
