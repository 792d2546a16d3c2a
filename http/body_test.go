package http

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/mechanism"
)

// decodeString decodes body into a Declaration.
func decodeString(body string) error {
	var d mechanism.Declaration
	return decode(httptest.NewRecorder(), httptest.NewRequest("PUT", "/", strings.NewReader(body)), &d)
}

// manyKeys is an object with n members named k0, k1, …
func manyKeys(n int) string {
	var b strings.Builder
	b.WriteString("{")
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"k%d":1`, i)
	}
	b.WriteString("}")
	return b.String()
}

// 160k unknown keys are refused at the first one, with its name, after a
// handful of tokens.
func TestDecodeManyUnknownKeysStopsAtTheFirst(t *testing.T) {
	body := manyKeys(160000)
	err := decodeString(body)
	var e *dc.Error
	if !errors.As(err, &e) || e.Code != dc.EInvalid || e.Field != "k0" {
		t.Fatalf("got %v, want invalid_argument on field k0", err)
	}
	steps, _ := walkBody(context.Background(), []byte(body), reflect.TypeFor[mechanism.Declaration]())
	if steps > 10 {
		t.Fatalf("refusing the first unknown key took %d steps", steps)
	}
	// Known keys nested deep in an array: still one step per token.
	nested := `{"volumes":[` + strings.Repeat(`{"volume":{"outline_polygon":{"vertices":[{"lat":1,"lng":2},{"lat":1,"lng":2}]}}},`, 20000) + `{"x":1}]}`
	steps, err = walkBody(context.Background(), []byte(nested), reflect.TypeFor[mechanism.Declaration]())
	if e, ok := err.(*dc.Error); !ok || e.Field != "volumes[20000].x" {
		t.Fatalf("got %v, want field volumes[20000].x", err)
	}
	if steps > len(nested)/2 {
		t.Fatalf("%d steps for a body of %d bytes", steps, len(nested))
	}
}

// Deep nesting with the error at the end: the path is built once, for
// the error, not for every value.
func TestDecodeDeepNestingIsLinear(t *testing.T) {
	const depth = 5000
	body := `{"x":` + strings.Repeat("[", depth) + strings.Repeat("1,", 100000) + `{"a":1,"a":2}` + strings.Repeat("]", depth) + `}`
	steps, err := walkBody(context.Background(), []byte(body), reflect.TypeFor[map[string]any]())
	if e, ok := err.(*dc.Error); !ok || !strings.HasPrefix(e.Field, "x[0][0]") || !strings.HasSuffix(e.Field, "[100000].a") {
		t.Fatalf("got %v, want a duplicate at x[0][0]…[100000].a", err)
	}
	if steps > 3*len(body) {
		t.Fatalf("%d steps for a body of %d bytes", steps, len(body))
	}
}

// A request whose context ends stops being decoded.
func TestDecodeStopsWhenTheRequestEnds(t *testing.T) {
	body := `{"volumes":[` + strings.Repeat(`{"volume":{"outline_polygon":{"vertices":[{"lat":1,"lng":2}]}}},`, 20000) + `{}]}`
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	steps, err := walkBody(ctx, []byte(body), reflect.TypeFor[mechanism.Declaration]())
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if steps > ctxCheckEvery {
		t.Fatalf("went on for %d steps after the request ended", steps)
	}
}

func TestDecodeRefusesDuplicateKeys(t *testing.T) {
	for _, tc := range []struct{ body, field string }{
		{`{"volumes":[],"volumes":[]}`, "volumes"},
		{`{"priority":1,"state":"planned","priority":2}`, "priority"},
		{`{"volumes":[{},{"volume":{"outline_circle":{"center":{"lat":1,"lng":2,"lat":3}}}}]}`, "volumes[1].volume.outline_circle.center.lat"},
	} {
		err := decodeString(tc.body)
		e, ok := err.(*dc.Error)
		if !ok || e.Code != dc.EInvalid || e.Field != tc.field || !strings.Contains(e.Message, "duplicate") {
			t.Errorf("%s: got %v (field %q), want a duplicate key on %q", tc.body, err, fieldOf(e), tc.field)
		}
	}
}

// Contract 2.1: escapes of lone surrogates and NUL are not text.
func TestDecodeRefusesLoneSurrogatesAndNUL(t *testing.T) {
	for _, tc := range []struct{ body, field string }{
		{`{"notes":"a\ud800b"}`, "notes"},
		{`{"notes":"\udc00"}`, "notes"},
		{`{"notes":"\ud800\u0041"}`, "notes"},
		{`{"callsign":"AB\u0000"}`, "callsign"},
		{`{"volumes":[{"volume":{"altitude_lower":{"units":"\u0000M"}}}]}`, "volumes[0].volume.altitude_lower.units"},
		{`{"volumes":[{"volume":{"altitude_lower":{"units":"M","reference":"W84\ud83d"}}}]}`, "volumes[0].volume.altitude_lower.reference"},
	} {
		err := decodeString(tc.body)
		e, ok := err.(*dc.Error)
		if !ok || e.Code != dc.EInvalid || e.Field != tc.field {
			t.Errorf("%s: got %v (field %q), want invalid_argument on %q", tc.body, err, fieldOf(e), tc.field)
		}
	}
	// A surrogate pair is one character, and fine.
	var d mechanism.Declaration
	err := decode(httptest.NewRecorder(), httptest.NewRequest("PUT", "/", strings.NewReader(`{"notes":"\ud83d\ude00 ok"}`)), &d)
	if err != nil || d.Notes == nil || *d.Notes != "😀 ok" {
		t.Fatalf("surrogate pair: %v %v", err, d.Notes)
	}
}

// Names match exactly: another case is an unknown field, not a second
// way to write the same one.
func TestDecodeNamesMatchExactly(t *testing.T) {
	err := decodeString(`{"volumes":[],"Volumes":[]}`)
	if e, ok := err.(*dc.Error); !ok || e.Field != "Volumes" {
		t.Fatalf("got %v, want unknown field Volumes", err)
	}
}
