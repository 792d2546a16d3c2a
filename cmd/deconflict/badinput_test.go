package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestBadInput sends every kind of invalid declaration of contract
// section 3 and checks the status, the code, the field, and that nothing
// was stored or told.
func TestBadInput(t *testing.T) {
	s := startServer(t)
	op, obs := s.token("operator", "alpha"), s.token("observer", "alpha")

	square := [][2]float64{{0, 0}, {0, 1}, {1, 1}, {1, 0}}
	valid := func() map[string]any { return decl("planned", polygon(square, 0, 100, at(1), at(2))) }
	set := func(path string, v any) map[string]any {
		d := valid()
		var cur any = d
		parts := strings.Split(path, ".")
		for i, p := range parts {
			last := i == len(parts)-1
			switch c := cur.(type) {
			case map[string]any:
				if last {
					if v == nil {
						delete(c, p)
					} else {
						c[p] = v
					}
				} else {
					cur = c[p]
				}
			case []any:
				var n int
				_ = json.Unmarshal([]byte(p), &n)
				if last {
					c[n] = v
				} else {
					cur = c[n]
				}
			}
		}
		return d
	}
	many := func(n int) []any {
		var vs []any
		for i := 0; i < n; i++ {
			vs = append(vs, map[string]any{"lat": 0.0, "lng": float64(i) * 0.0001})
		}
		vs = append(vs, map[string]any{"lat": 1.0, "lng": 0.5})
		return vs
	}
	v0 := "volumes.0.volume."
	cases := []struct {
		name   string
		body   any
		status int
		code   string
		field  string
	}{
		{"malformed JSON", `{"volumes": [`, 400, "invalid_argument", ""},
		{"not an object", `[1,2]`, 400, "invalid_argument", ""},
		{"unknown field", set("colour", "red"), 400, "invalid_argument", "colour"},
		{"no volumes", set("volumes", []any{}), 400, "invalid_argument", "volumes"},
		{"both outlines", set(v0+"outline_circle", map[string]any{"center": map[string]any{"lat": 0, "lng": 0}, "radius": map[string]any{"value": 10, "units": "M"}}), 400, "invalid_argument", "volumes[0].volume"},
		{"no outline", set(v0+"outline_polygon", nil), 400, "invalid_argument", "volumes[0].volume"},
		{"latitude too big", set(v0+"outline_polygon.vertices.3.lat", 91.0), 400, "invalid_argument", "volumes[0].volume.outline_polygon.vertices[3].lat"},
		{"longitude too small", set(v0+"outline_polygon.vertices.1.lng", -180.5), 400, "invalid_argument", "volumes[0].volume.outline_polygon.vertices[1].lng"},
		{"latitude missing", set(v0+"outline_polygon.vertices.2", map[string]any{"lng": 1.0}), 400, "invalid_argument", "volumes[0].volume.outline_polygon.vertices[2].lat"},
		{"two vertices", set(v0+"outline_polygon.vertices", []any{map[string]any{"lat": 0, "lng": 0}, map[string]any{"lat": 1, "lng": 1}}), 400, "invalid_argument", ""},
		{"self-intersecting", set(v0+"outline_polygon.vertices", []any{
			map[string]any{"lat": 0, "lng": 0}, map[string]any{"lat": 1, "lng": 1},
			map[string]any{"lat": 0, "lng": 1}, map[string]any{"lat": 1, "lng": 0}}), 400, "invalid_argument", ""},
		{"too many vertices", set(v0+"outline_polygon.vertices", many(10001)), 413, "too_large", ""},
		{"altitude units", set(v0+"altitude_lower.units", "NM"), 400, "invalid_argument", "volumes[0].volume.altitude_lower.units"},
		{"altitude reference", set(v0+"altitude_upper.reference", "AGL"), 400, "invalid_argument", "volumes[0].volume.altitude_upper.reference"},
		{"lower above upper", set(v0+"altitude_lower.value", 500.0), 400, "invalid_argument", ""},
		{"altitude too high", set(v0+"altitude_upper.value", 100001.0), 400, "invalid_argument", "volumes[0].volume.altitude_upper.value"},
		{"altitude too low", set(v0+"altitude_lower.value", -8001.0), 400, "invalid_argument", "volumes[0].volume.altitude_lower.value"},
		{"altitude not a number", set(v0+"altitude_lower.value", "high"), 400, "invalid_argument", ""},
		{"bad time", set("volumes.0.time_start.value", "tomorrow"), 400, "invalid_argument", "volumes[0].time_start.value"},
		{"bad time format", set("volumes.0.time_start.format", "ISO"), 400, "invalid_argument", "volumes[0].time_start.format"},
		{"start after end", set("volumes.0.time_start.value", at(3).Format("2006-01-02T15:04:05Z")), 400, "invalid_argument", ""},
		{"in the past", set("volumes.0", polygon(square, 0, 100, at(-3), at(-2))), 400, "invalid_argument", "volumes[0].time_end.value"},
		{"callsign too long", set("callsign", strings.Repeat("A", 33)), 400, "invalid_argument", "callsign"},
		{"bad state", set("state", "flying"), 400, "invalid_argument", "state"},
		{"radius zero", set("volumes.0", circle(0, 0, 0, 0, 100, at(1), at(2))), 400, "invalid_argument", "volumes[0].volume.outline_circle.radius.value"},
		{"radius too big", set("volumes.0", circle(0, 0, 2000001, 0, 100, at(1), at(2))), 400, "invalid_argument", "volumes[0].volume.outline_circle.radius.value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do("PUT", "/v1/operations/"+newID(), op, tc.body)
			if tc.field != "" {
				r.want(t, tc.status, tc.code, tc.field)
			} else {
				r.want(t, tc.status, tc.code)
			}
		})
	}
	tooMany := valid()
	var vols []any
	for i := 0; i < 101; i++ {
		vols = append(vols, circle(0, 0, 100, 0, 100, at(1), at(2)))
	}
	tooMany["volumes"] = vols
	s.do("PUT", "/v1/operations/"+newID(), op, tooMany).want(t, 413, "too_large", "volumes")
	s.do("PUT", "/v1/operations/not-a-uuid", op, valid()).want(t, 400, "invalid_argument", "id")

	// Nothing was stored and nothing was told.
	if n := len(s.do("GET", "/v1/operations?state=planned&state=active&state=ended&state=cancelled", obs, nil).list("operations")); n != 0 {
		t.Fatalf("%d operations stored by rejected requests", n)
	}
	for _, e := range s.do("GET", "/v1/events?after=0", obs, nil).list("events") {
		if typ := e.(map[string]any)["type"].(string); strings.HasPrefix(typ, "operation.") {
			t.Fatalf("a rejected request produced event %s", typ)
		}
	}
}
