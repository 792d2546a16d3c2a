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
