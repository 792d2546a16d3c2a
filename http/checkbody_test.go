package http

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	dc "github.com/deconflict/deconflict"
)

// checkBodyTarget is what the walker decodes a check body into.
type checkBodyTarget struct {
	Volumes []dc.Volume4D `json:"volumes"`
}

// TestScanCheckBodyTakesPlainBodies checks that check bodies of the plain
// shape are read by the scanner, not left to the walker, with the value
// the walker gives them.
func TestScanCheckBodyTakesPlainBodies(t *testing.T) {
	var two checkBodyTarget
	if err := json.Unmarshal([]byte(checkBodyCircle), &two); err != nil {
		t.Fatal(err)
	}
	two.Volumes = append(two.Volumes, two.Volumes[0])
	indented, err := json.MarshalIndent(two, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{
		"circle":                   checkBodyCircle,
		"polygon":                  checkBodyPolygon(100),
		"two volumes, indented":    string(indented),
		"no volumes":               `{"volumes":[]}`,
		"empty":                    `{}`,
		"odd numbers":              `{"volumes":[{"volume":{"outline_circle":{"center":{"lat":-0,"lng":1E2},"radius":{"value":1.5e+3,"units":"M"}}}}]}`,
		"missing and empty fields": `{"volumes":[{"volume":{"outline_polygon":{"vertices":[]},"altitude_lower":{}}},{}]}`,
	} {
		got, ok := scanCheckBody(context.Background(), []byte(body))
		if !ok {
			t.Errorf("%s: left to the walker", name)
			continue
		}
		var want checkBodyTarget
		if err := decodeBody(context.Background(), []byte(body), &want); err != nil {
			t.Fatalf("%s: the walker refuses it: %v", name, err)
		}
		if !reflect.DeepEqual(got, want.Volumes) {
			t.Errorf("%s: scanned %+v, the walker reads %+v", name, got, want.Volumes)
		}
	}
}

// TestScanCheckBodyLeavesTheRestToTheWalker checks that bodies outside the
// plain shape are left to the walker, which words their refusals.
func TestScanCheckBodyLeavesTheRestToTheWalker(t *testing.T) {
	circle := checkBodyCircle
	for name, body := range map[string]string{
		"duplicate name":  strings.Replace(circle, `"lat":33.512345`, `"lat":33.512345,"lat":1`, 1),
		"unknown name":    strings.Replace(circle, `"lat":33.512345`, `"lat":33.512345,"alt":1`, 1),
		"escape":          strings.Replace(circle, `"units":"M"`, `"units":"\u004d"`, 1),
		"null":            strings.Replace(circle, `"lat":33.512345`, `"lat":null`, 1),
		"out of range":    strings.Replace(circle, `"lat":33.512345`, `"lat":1e400`, 1),
		"leading zero":    strings.Replace(circle, `"lat":33.512345`, `"lat":033`, 1),
		"string number":   strings.Replace(circle, `"lat":33.512345`, `"lat":"33"`, 1),
		"trailing data":   circle + "{}",
		"trailing comma":  strings.Replace(circle, `"units":"M"}`, `"units":"M",}`, 1),
		"non-ASCII":       strings.Replace(circle, `"W84"`, `"W84é"`, 1),
		"NUL":             strings.Replace(circle, `"W84"`, "\"W84\x00\"", 1),
		"other top name":  `{"volume":[]}`,
		"volumes not [":   `{"volumes":{}}`,
		"not an object":   `[]`,
		"cut short":       circle[:len(circle)-2],
		"empty body":      ``,
		"only white":      " \n",
		"unquoted name":   `{volumes:[]}`,
		"number as name":  `{"volumes":[{"volume":{"outline_circle":{"center":{1:2}}}}]}`,
		"vertices object": `{"volumes":[{"volume":{"outline_polygon":{"vertices":{}}}}]}`,
	} {
		if _, ok := scanCheckBody(context.Background(), []byte(body)); ok {
			t.Errorf("%s: scanned, not left to the walker: %s", name, body)
		}
		_, got := decodeCheckBody(context.Background(), []byte(body))
		var v checkBodyTarget
		want := decodeBody(context.Background(), []byte(body), &v)
		if (got == nil) != (want == nil) || (got != nil && got.Error() != want.Error()) {
			t.Errorf("%s: %v, the walker says %v", name, got, want)
		}
	}
}

// FuzzScanCheckBody holds the scanner to the walker: a body the scanner
// reads, the walker accepts, with the same value.
func FuzzScanCheckBody(f *testing.F) {
	for _, seed := range []string{
		checkBodyCircle, checkBodyPolygon(4), `{}`, `{"volumes":[]}`, ` { "volumes" : [ { } ] } `,
		`{"volumes":[{"volume":{"outline_circle":{"center":{"lat":-0.0e-0,"lng":1E+2},"radius":{"value":0,"units":"FT"}}}}]}`,
		`{"volumes":[{"time_start":{"value":"x","format":"RFC3339"},"time_end":{}}]}`,
		`{"volumes":[{"volume":{"outline_polygon":{"vertices":[{"lat":1},{"lng":2},{}]}}}]}`,
		`{"volumes":[{"volume":{"altitude_lower":{"value":1,"reference":"W84","units":"M"},"altitude_upper":{"value":-1e308}}}]}`,
		`{"volumes":[{},{"volume":{}}]}`, `{"volumes":[{"volume":{"outline_circle":{"radius":{}}}}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, ok := scanCheckBody(context.Background(), body)
		if !ok {
			return
		}
		var want checkBodyTarget
		if err := decodeBody(context.Background(), body, &want); err != nil {
			t.Fatalf("scanned %q, which the walker refuses: %v", body, err)
		}
		if !reflect.DeepEqual(got, want.Volumes) {
			t.Fatalf("%q: scanned %+v, the walker reads %+v", body, got, want.Volumes)
		}
	})
}

// TestDecodeCheckBodyKeepsNothingOfTheBody checks that the volumes of a
// check body, read by the scanner or by the walker, do not point into
// the body: check reads bodies into pooled buffers and gives them back
// once decoded.
func TestDecodeCheckBodyKeepsNothingOfTheBody(t *testing.T) {
	for name, body := range map[string]string{
		"scanned":  checkBodyCircle,
		"walked":   strings.Replace(checkBodyCircle, `"M"`, `"\u004d"`, 1),
		"polygon":  checkBodyPolygon(20),
		"indented": strings.ReplaceAll(checkBodyCircle, ",", ",\n  "),
	} {
		want, err := decodeCheckBody(context.Background(), []byte(body))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		buf := []byte(body)
		got, err := decodeCheckBody(context.Background(), buf)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i := range buf {
			buf[i] = 'x'
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: the volumes changed with the body they were read from: %+v, want %+v", name, got, want)
		}
	}
}
