package http

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/geo"
	"github.com/deconflict/deconflict/mechanism"
)

// fuzzHang is how long one input of a fuzz target may run before the
// target gives up on it as hung.
const fuzzHang = 20 * time.Second

// FuzzDecodeDeclaration feeds arbitrary bodies to the request decoder and
// the volume parser: they must never panic, every refusal must be an
// *dc.Error with a code the error table knows, and the work must stay
// linear in the body: the walker's steps (tokens read and path segments
// formatted) at most two a byte, and the time within a budget per byte so
// generous that only work growing faster than the input can break it on a
// loaded machine.
func FuzzDecodeDeclaration(f *testing.F) {
	for _, seed := range []string{
		`{"volumes":[{"volume":{"outline_circle":{"center":{"lat":33.5,"lng":36.3},"radius":{"value":5000,"units":"M"}},"altitude_lower":{"value":1000,"reference":"W84","units":"M"},"altitude_upper":{"value":3000,"reference":"W84","units":"M"}},"time_start":{"value":"2030-11-25T12:00:00Z","format":"RFC3339"},"time_end":{"value":"2030-11-25T13:30:00Z","format":"RFC3339"}}],"state":"planned"}`,
		`{"volumes":[{"volume":{"outline_polygon":{"vertices":[{"lat":33.5,"lng":36.3},{"lat":33.6,"lng":36.3},{"lat":33.6,"lng":36.45}]},"altitude_lower":{"value":1000,"reference":"W84","units":"FT"},"altitude_upper":{"value":3000,"reference":"W84","units":"FT"}},"time_start":{"value":"2030-11-25T12:00:00Z","format":"RFC3339"},"time_end":{"value":"2030-11-25T13:30:00Z","format":"RFC3339"}}],"callsign":"X","notes":"n"}`,
		`{"volumes":[]}`, `{"volumes":null}`, `{}`, `[]`, `null`, `{"volumes":[{}]}`, `{"priority":1e400}`,
		`{"volumes":[{"volume":{"outline_polygon":{"vertices":[{"lat":90,"lng":0},{"lat":0,"lng":180},{"lat":0,"lng":-180}]}}}]}`,
		`{"volumes":[],"volumes":[]}`, `{"notes":"\ud800"}`, `{"callsign":"\u0000"}`, `{"Volumes":[]}`, "{\"notes\":\"\xff\"}",
		`{"volumes":[{"volume":{"outline_circle":{"center":{"lat":1,"lat":2}}}}]}`, `{"priority":1.5}`, `{"priority":99999999999999999999}`,
		`{"volumes":[[[[[[1]]]]]]}`, `{} {}`, `{"a":{"b":[1,2,{"c":3}]}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		start := time.Now()
		// A body that never finishes would stall the fuzzer without a
		// report: crash the worker instead, so that the input is kept.
		hang := time.AfterFunc(fuzzHang, func() { panic(fmt.Sprintf("decoding %q did not finish in %v", body, fuzzHang)) })
		defer hang.Stop()
		req := httptest.NewRequest("PUT", "/v1/operations/x", bytes.NewReader(body))
		var d mechanism.Declaration
		err := decode(httptest.NewRecorder(), req, &d)
		if err == nil {
			// What the walker accepts, encoding/json decodes without an
			// unknown field or a type error of its own.
			strict := json.NewDecoder(bytes.NewReader(body))
			strict.DisallowUnknownFields()
			var d2 mechanism.Declaration
			if err := strict.Decode(&d2); err != nil {
				t.Fatalf("accepted a body encoding/json refuses: %v", err)
			}
			_, err = geo.ParseVolumes(d.Volumes, "volumes")
		}
		if budget := time.Second + time.Duration(len(body))*50*time.Microsecond; time.Since(start) > budget {
			t.Fatalf("%d bytes took %v (budget %v)", len(body), time.Since(start), budget)
		}
		if steps, _ := walkBody(context.Background(), body, reflect.TypeFor[mechanism.Declaration]()); steps > 2*len(body)+16 {
			t.Fatalf("%d steps for %d bytes", steps, len(body))
		}
		if err == nil {
			return
		}
		var e *dc.Error
		if !errors.As(err, &e) {
			t.Fatalf("refusal is not a *dc.Error: %T %v", err, err)
		}
		if _, ok := statuses[e.Code]; !ok || e.Code == dc.EInternal {
			t.Fatalf("refusal has code %q", e.Code)
		}
		if e.Message == "" {
			t.Fatal("refusal without a message")
		}
	})
}
