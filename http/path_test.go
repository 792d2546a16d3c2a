package http

import (
	"net/http/httptest"
	"strings"
	"testing"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/mechanism"
)

func TestDecodeErrorsNameTheExactField(t *testing.T) {
	vol := func(lat string) string {
		return `{"volume":{"outline_polygon":{"vertices":[{"lat":1,"lng":1},{"lat":2,"lng":2},{"lat":3,"lng":3},{"lat":` + lat + `,"lng":4}]}}}`
	}
	for _, tc := range []struct{ body, field string }{
		{`{"volumes":[` + vol("1") + `,` + vol(`"x"`) + `]}`, "volumes[1].volume.outline_polygon.vertices[3].lat"},
		{`{"volumes":[` + vol("1") + `],"priority":"high"}`, "priority"},
		{`{"volumes":[{"volume":{"outline_circle":{"center":{"lat":1,"lng":2,"alt":3}}}}]}`, "volumes[0].volume.outline_circle.center.alt"},
		{`{"volumes":[],"colour":"red"}`, "colour"},
		{`{"volumes":[{},{"time_start":{"value":"x","format":"RFC3339","zone":"Z"}}]}`, "volumes[1].time_start.zone"},
		// Numbers out of range, after other values.
		{`{"volumes":[{"volume":{"outline_polygon":{"vertices":[]},"altitude_lower":{"value":1e400,"reference":"W84","units":"M"}}}]}`, "volumes[0].volume.altitude_lower.value"},
		{`{"volumes":[` + vol("1") + `],"priority":1e400}`, "priority"},
		{`{"volumes":[` + vol("1e999") + `]}`, "volumes[0].volume.outline_polygon.vertices[3].lat"},
	} {
		var d mechanism.Declaration
		err := decode(httptest.NewRecorder(), httptest.NewRequest("PUT", "/", strings.NewReader(tc.body)), &d)
		e, ok := err.(*dc.Error)
		if !ok || e.Code != dc.EInvalid || e.Field != tc.field {
			t.Errorf("%s:\n got %v (field %q), want field %q", tc.body, err, fieldOf(e), tc.field)
		}
	}
}

func fieldOf(e *dc.Error) string {
	if e == nil {
		return ""
	}
	return e.Field
}

// A body that is not UTF-8 is malformed JSON, not text to repair.
func TestDecodeRefusesInvalidUTF8(t *testing.T) {
	var out struct {
		Text string `json:"text"`
	}
	err := decode(httptest.NewRecorder(), httptest.NewRequest("POST", "/", strings.NewReader("{\"text\": \"ok \xff\xfe\"}")), &out)
	if e, ok := err.(*dc.Error); !ok || e.Code != dc.EInvalid || !strings.Contains(e.Message, "byte 13") {
		t.Fatalf("got %v, want invalid_argument at byte 13", err)
	}
	if err := decode(httptest.NewRecorder(), httptest.NewRequest("POST", "/", strings.NewReader(`{"text": "ünïcode ✓"}`)), &out); err != nil || out.Text != "ünïcode ✓" {
		t.Fatalf("valid UTF-8: %v %q", err, out.Text)
	}
}
