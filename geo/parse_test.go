package geo

import (
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/deconflict/deconflict"
	"github.com/golang/geo/s2"
)

// validVolumes returns two valid volumes: a polygon and a circle.
func validVolumes() []deconflict.Volume4D {
	start := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	return []deconflict.Volume4D{
		wireVolume(deconflict.Volume3D{OutlinePolygon: ring(33.5, 36.3, 33.6, 36.3, 33.6, 36.45)}, 1000, 3000, start, start.Add(90*time.Minute)),
		wireVolume(deconflict.Volume3D{OutlineCircle: &deconflict.Circle{
			Center: &deconflict.LatLng{Lat: deconflict.Float(33.5), Lng: deconflict.Float(36.3)},
			Radius: &deconflict.Measure{Value: deconflict.Float(5000), Units: "M"},
		}}, 0, 500, start, start.Add(time.Hour)),
	}
}

// ring returns a polygon from latitude, longitude pairs.
func ring(latlng ...float64) *deconflict.Polygon {
	p := &deconflict.Polygon{}
	for i := 0; i+1 < len(latlng); i += 2 {
		p.Vertices = append(p.Vertices, deconflict.LatLng{Lat: deconflict.Float(latlng[i]), Lng: deconflict.Float(latlng[i+1])})
	}
	return p
}

// regular returns a ring of n vertices on a small circle.
func regular(lat, lng, radiusDeg float64, n int) *deconflict.Polygon {
	var ll []float64
	for i := range n {
		a := 2 * math.Pi * float64(i) / float64(n)
		ll = append(ll, lat+radiusDeg*math.Sin(a), lng+radiusDeg*math.Cos(a))
	}
	return ring(ll...)
}

func TestParseVolumesRejects(t *testing.T) {
	const p0 = "volumes[0].volume.outline_polygon"
	const c1 = "volumes[1].volume.outline_circle"
	poly := func(p *deconflict.Polygon) func(v []deconflict.Volume4D) {
		return func(v []deconflict.Volume4D) { v[0].Volume.OutlinePolygon = p }
	}
	bowtie := regular(10, 10, 1, 40)
	bowtie.Vertices[5], bowtie.Vertices[25] = bowtie.Vertices[25], bowtie.Vertices[5]
	huge := regular(10, 10, 1, deconflict.MaxVertices+1)
	for _, c := range []struct {
		name   string
		change func(v []deconflict.Volume4D)
		code   string
		field  string
	}{
		{"neither outline", func(v []deconflict.Volume4D) { v[0].Volume.OutlinePolygon = nil }, deconflict.EInvalid, "volumes[0].volume"},
		{"both outlines", func(v []deconflict.Volume4D) { v[1].Volume.OutlinePolygon = ring(1, 1, 2, 2, 1, 3) }, deconflict.EInvalid, "volumes[1].volume"},
		{"lat missing", func(v []deconflict.Volume4D) { v[0].Volume.OutlinePolygon.Vertices[1].Lat = nil }, deconflict.EInvalid, p0 + ".vertices[1].lat"},
		{"lat over 90", func(v []deconflict.Volume4D) { v[0].Volume.OutlinePolygon.Vertices[2].Lat = deconflict.Float(90.5) }, deconflict.EInvalid, p0 + ".vertices[2].lat"},
		{"lat NaN", func(v []deconflict.Volume4D) {
			v[0].Volume.OutlinePolygon.Vertices[0].Lat = deconflict.Float(math.NaN())
		}, deconflict.EInvalid, p0 + ".vertices[0].lat"},
		{"lng under -180", func(v []deconflict.Volume4D) { v[0].Volume.OutlinePolygon.Vertices[1].Lng = deconflict.Float(-180.01) }, deconflict.EInvalid, p0 + ".vertices[1].lng"},
		{"lng infinite", func(v []deconflict.Volume4D) {
			v[0].Volume.OutlinePolygon.Vertices[1].Lng = deconflict.Float(math.Inf(1))
		}, deconflict.EInvalid, p0 + ".vertices[1].lng"},
		{"no vertices", poly(&deconflict.Polygon{}), deconflict.EInvalid, p0 + ".vertices"},
		{"two vertices", poly(ring(1, 1, 2, 2)), deconflict.EInvalid, p0 + ".vertices"},
		{"two vertices and closing one", poly(ring(1, 1, 2, 2, 1, 1)), deconflict.EInvalid, p0 + ".vertices"},
		{"repeated vertex", poly(ring(1, 1, 2, 2, 1, 3, 2, 2, 0, 2)), deconflict.EInvalid, p0 + ".vertices[3]"},
		{"consecutive repeat", poly(ring(1, 1, 2, 2, 2, 2, 1, 3)), deconflict.EInvalid, p0 + ".vertices[2]"},
		{"same pole twice", poly(ring(90, 0, 80, 0, 80, 90, 90, 45, 80, 180)), deconflict.EInvalid, p0 + ".vertices[3]"},
		{"antimeridian twice", poly(ring(10, 180, 11, 179, 10, -180, 9, 179)), deconflict.EInvalid, p0 + ".vertices[2]"},
		{"antipodal edge", poly(ring(0, 0, 0, 180, 45, 90)), deconflict.EInvalid, p0 + ".vertices[1]"},
		{"bow tie", poly(ring(0, 0, 1, 1, 0, 1, 1, 0)), deconflict.EInvalid, p0 + ".vertices"},
		{"large ring crossing itself", poly(bowtie), deconflict.EInvalid, p0 + ".vertices"},
		{"doubles back", poly(ring(0, 0, 0, 2, 0, 1)), deconflict.EInvalid, p0 + ".vertices[0]"},
		{"spike along an edge", poly(ring(0, 0, 0, 2, 0, 1, 1, 1)), deconflict.EInvalid, p0 + ".vertices[1]"},
		{"edge through a later vertex", poly(ring(0, 0, 1, 0, 1, 1, 1, 0.5, 2, 0.5)), deconflict.EInvalid, p0 + ".vertices"},
		{"no area", poly(ring(0, 0, 0, 1e-5, 1e-8, 0.5e-5)), deconflict.EInvalid, p0 + ".vertices"},
		{"too many vertices", poly(huge), deconflict.ETooLarge, p0 + ".vertices"},
		{"far too many vertices", poly(regular(10, 10, 1, 3*deconflict.MaxVertices)), deconflict.ETooLarge, p0 + ".vertices"},
		{"center missing", func(v []deconflict.Volume4D) { v[1].Volume.OutlineCircle.Center = nil }, deconflict.EInvalid, c1 + ".center"},
		{"center lng missing", func(v []deconflict.Volume4D) { v[1].Volume.OutlineCircle.Center.Lng = nil }, deconflict.EInvalid, c1 + ".center.lng"},
		{"center lat 91", func(v []deconflict.Volume4D) { v[1].Volume.OutlineCircle.Center.Lat = deconflict.Float(91) }, deconflict.EInvalid, c1 + ".center.lat"},
		{"radius missing", func(v []deconflict.Volume4D) { v[1].Volume.OutlineCircle.Radius = nil }, deconflict.EInvalid, c1 + ".radius"},
		{"radius value missing", func(v []deconflict.Volume4D) { v[1].Volume.OutlineCircle.Radius.Value = nil }, deconflict.EInvalid, c1 + ".radius.value"},
		{"radius zero", func(v []deconflict.Volume4D) { v[1].Volume.OutlineCircle.Radius.Value = deconflict.Float(0) }, deconflict.EInvalid, c1 + ".radius.value"},
		{"radius negative", func(v []deconflict.Volume4D) { v[1].Volume.OutlineCircle.Radius.Value = deconflict.Float(-1) }, deconflict.EInvalid, c1 + ".radius.value"},
		{"radius over 2000 km", func(v []deconflict.Volume4D) { v[1].Volume.OutlineCircle.Radius.Value = deconflict.Float(2_000_000.5) }, deconflict.EInvalid, c1 + ".radius.value"},
		{"radius in km", func(v []deconflict.Volume4D) { v[1].Volume.OutlineCircle.Radius.Units = "KM" }, deconflict.EInvalid, c1 + ".radius.units"},
		{"lower missing", func(v []deconflict.Volume4D) { v[0].Volume.AltitudeLower = nil }, deconflict.EInvalid, "volumes[0].volume.altitude_lower"},
		{"lower value missing", func(v []deconflict.Volume4D) { v[0].Volume.AltitudeLower.Value = nil }, deconflict.EInvalid, "volumes[0].volume.altitude_lower.value"},
		{"lower units ft", func(v []deconflict.Volume4D) { v[0].Volume.AltitudeLower.Units = "ft" }, deconflict.EInvalid, "volumes[0].volume.altitude_lower.units"},
		{"lower units missing", func(v []deconflict.Volume4D) { v[0].Volume.AltitudeLower.Units = "" }, deconflict.EInvalid, "volumes[0].volume.altitude_lower.units"},
		{"upper reference AGL", func(v []deconflict.Volume4D) { v[1].Volume.AltitudeUpper.Reference = "AGL" }, deconflict.EInvalid, "volumes[1].volume.altitude_upper.reference"},
		{"lower below -8000 m", func(v []deconflict.Volume4D) { v[0].Volume.AltitudeLower.Value = deconflict.Float(-8000.1) }, deconflict.EInvalid, "volumes[0].volume.altitude_lower.value"},
		{"upper above 100 km", func(v []deconflict.Volume4D) { v[0].Volume.AltitudeUpper.Value = deconflict.Float(100_000.1) }, deconflict.EInvalid, "volumes[0].volume.altitude_upper.value"},
		{"upper above 100 km in feet", func(v []deconflict.Volume4D) {
			v[0].Volume.AltitudeUpper.Value, v[0].Volume.AltitudeUpper.Units = deconflict.Float(328_084), "FT"
		}, deconflict.EInvalid, "volumes[0].volume.altitude_upper.value"},
		{"lower above upper", func(v []deconflict.Volume4D) { v[0].Volume.AltitudeLower.Value = deconflict.Float(3000.5) }, deconflict.EInvalid, "volumes[0].volume.altitude_upper.value"},
		{"start missing", func(v []deconflict.Volume4D) { v[0].TimeStart = nil }, deconflict.EInvalid, "volumes[0].time_start"},
		{"start format", func(v []deconflict.Volume4D) { v[0].TimeStart.Format = "ISO8601" }, deconflict.EInvalid, "volumes[0].time_start.format"},
		{"start value empty", func(v []deconflict.Volume4D) { v[0].TimeStart.Value = "" }, deconflict.EInvalid, "volumes[0].time_start.value"},
		{"start not a time", func(v []deconflict.Volume4D) { v[0].TimeStart.Value = "tomorrow" }, deconflict.EInvalid, "volumes[0].time_start.value"},
		{"end without zone", func(v []deconflict.Volume4D) { v[1].TimeEnd.Value = "2026-11-25T13:00:00" }, deconflict.EInvalid, "volumes[1].time_end.value"},
		{"end missing", func(v []deconflict.Volume4D) { v[1].TimeEnd = nil }, deconflict.EInvalid, "volumes[1].time_end"},
		{"end before start", func(v []deconflict.Volume4D) { v[1].TimeEnd.Value = "2026-11-25T11:59:59Z" }, deconflict.EInvalid, "volumes[1].time_end.value"},
		{"end equals start", func(v []deconflict.Volume4D) { v[1].TimeEnd.Value = "2026-11-25T13:00:00+01:00" }, deconflict.EInvalid, "volumes[1].time_end.value"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := validVolumes()
			c.change(v)
			_, err := ParseVolumes(v, "volumes")
			checkError(t, err, c.code, c.field)
		})
	}
}

func checkError(t *testing.T, err error, code, field string) {
	t.Helper()
	var e *deconflict.Error
	if !errors.As(err, &e) {
		t.Fatalf("got error %v, want a *deconflict.Error", err)
	}
	if e.Code != code || e.Field != field {
		t.Fatalf("got %s at %q (%s), want %s at %q", e.Code, e.Field, e.Message, code, field)
	}
	t.Logf("%s: %s", e.Field, e.Message)
	if e.Message == "" || strings.Contains(e.Message, "%!") {
		t.Fatalf("bad message %q", e.Message)
	}
}

func TestParseVolumesCount(t *testing.T) {
	_, err := ParseVolumes(nil, "volumes")
	checkError(t, err, deconflict.EInvalid, "volumes")
	many := make([]deconflict.Volume4D, deconflict.MaxVolumes+1)
	for i := range many {
		many[i] = validVolumes()[i%2]
	}
	_, err = ParseVolumes(many, "volumes")
	checkError(t, err, deconflict.ETooLarge, "volumes")
	if _, err := ParseVolumes(many[:deconflict.MaxVolumes], "volumes"); err != nil {
		t.Fatalf("%d volumes: %v", deconflict.MaxVolumes, err)
	}
}

func TestParseVolumesAccepts(t *testing.T) {
	for _, c := range []struct {
		name   string
		poly   *deconflict.Polygon
		inside []s2.LatLng
		out    []s2.LatLng
	}{
		{"closing vertex repeated", ring(33.5, 36.3, 33.6, 36.3, 33.6, 36.45, 33.5, 36.3), ll(33.58, 36.33), ll(33.5, 36.45)},
		{"clockwise", ring(33.6, 36.45, 33.6, 36.3, 33.5, 36.3), ll(33.58, 36.33), ll(33.5, 36.45)},
		{"concave", ring(0, 0, 0, 2, 2, 2, 1, 1, 2, 0), ll(0.5, 1, 1.5, 0.25), ll(1.5, 1, -0.1, 1)},
		{"across the antimeridian", ring(-1, 179.5, -1, -179.5, 1, -179.5, 1, 179.5), ll(0, 180, 0, -179.9, 0.5, 179.9), ll(0, 0, 0, 179)},
		{"antimeridian written both ways", ring(10, 180, 11, 179, 9, 179, 10, -180), ll(10, 179.5), ll(10, -179.5)},
		{"around the north pole", ring(80, 0, 80, 120, 80, -120), ll(90, 0, 85, 60), ll(70, 0, -90, 0)},
		{"through the north pole", ring(90, 0, 80, 30, 80, 60), ll(85, 45), ll(85, -135)},
		{"around the south pole", ring(-89, 0, -89, 90, -89, 180, -89, -90), ll(-90, 0, -89.5, 45), ll(-88, 45)},
		{"large ring with closing vertex", closed(regular(33, 36, 1, deconflict.MaxVertices)), ll(33, 36, 33.9, 36), ll(34.1, 36)},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := validVolumes()
			v[0].Volume.OutlinePolygon = c.poly
			vs, err := ParseVolumes(v, "volumes")
			if err != nil {
				t.Fatal(err)
			}
			f := vs[0].Footprint
			for _, p := range c.inside {
				if !f.ContainsPoint(s2.PointFromLatLng(p)) {
					t.Errorf("does not contain %v", p)
				}
			}
			for _, p := range c.out {
				if f.ContainsPoint(s2.PointFromLatLng(p)) {
					t.Errorf("contains %v", p)
				}
			}
			if !f.CapBound().Contains(s2.CapFromPoint(s2.PointFromLatLng(c.inside[0]))) {
				t.Errorf("cap bound misses %v", c.inside[0])
			}
			if !f.RectBound().ContainsLatLng(c.inside[0]) || !f.IntersectsRect(s2.RectFromLatLng(c.inside[0])) {
				t.Errorf("rect bound misses %v", c.inside[0])
			}
		})
	}
}

func ll(latlng ...float64) []s2.LatLng {
	var out []s2.LatLng
	for i := 0; i+1 < len(latlng); i += 2 {
		out = append(out, s2.LatLngFromDegrees(latlng[i], latlng[i+1]))
	}
	return out
}

func closed(p *deconflict.Polygon) *deconflict.Polygon {
	p.Vertices = append(p.Vertices, p.Vertices[0])
	return p
}

func TestParseVolumesConverts(t *testing.T) {
	v := validVolumes()
	v[0].Volume.AltitudeLower.Units, v[0].Volume.AltitudeLower.Value = "FT", deconflict.Float(1000)
	v[0].Volume.AltitudeUpper.Units, v[0].Volume.AltitudeUpper.Value = "FT", deconflict.Float(328_083)
	v[0].TimeStart.Value = "2026-11-25T14:00:00.5+02:00"
	vs, err := ParseVolumes(v, "volumes")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := vs[0].LowerM, 304.8; got != want {
		t.Errorf("lower = %v m, want %v", got, want)
	}
	if got, want := vs[0].Start, time.Date(2026, 11, 25, 12, 0, 0, 5e8, time.UTC); !got.Equal(want) {
		t.Errorf("start = %v, want %v", got, want)
	}
	f := vs[1].Footprint
	if !f.IsCircle() || f.ContainsPoint(s2.PointFromLatLng(s2.LatLngFromDegrees(33.5, 36.36))) ||
		!f.ContainsPoint(s2.PointFromLatLng(s2.LatLngFromDegrees(33.5, 36.35))) {
		t.Errorf("circle of 5 km around 33.5, 36.3 is wrong")
	}
}

// TestLargeRingValidatesFast guards against quadratic validation.
func TestLargeRingValidatesFast(t *testing.T) {
	v := validVolumes()
	v[0].Volume.OutlinePolygon = regular(33, 36, 1, deconflict.MaxVertices)
	start := time.Now()
	if _, err := ParseVolumes(v, "volumes"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("validating %d vertices took %v", deconflict.MaxVertices, d)
	}
	t.Logf("validating %d vertices took %v", deconflict.MaxVertices, time.Since(start))
}

// TestParseQueryVolumes checks that volumes parsed only to search with
// are the volumes ParseVolumes gives, without their cells, and that such
// a footprint filed all the same is filed under the same cells.
func TestParseQueryVolumes(t *testing.T) {
	v := validVolumes()
	filed, err := ParseVolumes(v, "volumes")
	if err != nil {
		t.Fatal(err)
	}
	query, err := ParseQueryVolumesContext(t.Context(), v, "volumes")
	if err != nil {
		t.Fatal(err)
	}
	for i := range filed {
		f, q := filed[i].Footprint, query[i].Footprint
		if q.cells != nil {
			t.Errorf("volume %d: a query footprint has its cells worked out", i)
		}
		if !slices.Equal(entryCells(q), entryCells(f)) {
			t.Errorf("volume %d: filed under %v, the query footprint under %v", i, entryCells(f), entryCells(q))
		}
		withCells := *q
		withCells.cells = f.cells
		if !reflect.DeepEqual(&withCells, f) || query[i].LowerM != filed[i].LowerM || !query[i].Start.Equal(filed[i].Start) {
			t.Errorf("volume %d parses differently to search with", i)
		}
	}
	v[1].Volume.OutlineCircle.Radius.Value = deconflict.Float(-1)
	_, want := ParseVolumes(v, "volumes")
	if _, got := ParseQueryVolumesContext(t.Context(), v, "volumes"); want == nil || got == nil || got.Error() != want.Error() {
		t.Errorf("a bad radius: %v to search with, %v to file", got, want)
	}
}
