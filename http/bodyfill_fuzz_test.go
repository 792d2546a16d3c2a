package http

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/mechanism"
)

// everyKind is a type with a field of each kind the walker fills itself.
type everyKind struct {
	I8      int8                `json:"i8"`
	U16     uint16              `json:"u16"`
	I       int                 `json:"i"`
	F32     float32             `json:"f32"`
	F64     *float64            `json:"f64,omitempty"`
	B       *bool               `json:"b"`
	PP      **int               `json:"pp"`
	S       string              `json:"s"`
	State   dc.State            `json:"state"`
	Arr     [2]int              `json:"arr"`
	Strings []string            `json:"strings"`
	Bytes   []byte              `json:"bytes"`
	M       map[string]*float64 `json:"m"`
	Named   map[dc.State]int    `json:"named"`
	Any     any                 `json:"any"`
	Anys    []any               `json:"anys"`
	Inner   *everyKind          `json:"inner"`
	Skipped int                 `json:"-"`
	NoTag   int
	//lint:ignore U1000 an unexported field, which decoding leaves alone
	hidden int
}

// decodeTargets are the types FuzzDecodeOnePass decodes into: those the
// handlers decode request bodies into, and more kinds besides.
var decodeTargets = []reflect.Type{
	reflect.TypeFor[mechanism.Declaration](),
	reflect.TypeFor[struct {
		Volumes []dc.Volume4D `json:"volumes"`
	}](),
	reflect.TypeFor[dc.SettingsPatch](),
	reflect.TypeFor[mechanism.Outgoing](),
	reflect.TypeFor[mechanism.Subscription](),
	reflect.TypeFor[struct{}](),
	reflect.TypeFor[map[string]any](),
	reflect.TypeFor[any](),
	reflect.TypeFor[*everyKind](),
	reflect.TypeFor[everyKind](),
	// Types the walker only checks, leaving the decoding to encoding/json.
	reflect.TypeFor[struct {
		At json.RawMessage `json:"at"`
	}](),
	reflect.TypeFor[struct {
		dc.Subject
		Note string `json:"note"`
	}](),
}

// FuzzDecodeOnePass holds the one-pass decoder (decodeBody) to the
// two-pass one it stands for, the body walker's check (checkBody) then
// encoding/json: on every body and target type, the same refusals (the
// same code, field and message where the check refuses; a refusal where
// encoding/json does) and, where both accept, the same decoded value.
func FuzzDecodeOnePass(f *testing.F) {
	for _, seed := range []string{
		checkBodyCircle, checkBodyPolygon(4),
		`{"volumes":[],"volumes":[]}`, `{"notes":"\ud800"}`, `{"callsign":"\u0000"}`, `{"Volumes":[]}`, "{\"notes\":\"\xff\"}",
		`{"priority":1.5}`, `{"priority":99999999999999999999}`, `{"priority":-3}`, `null`, `[]`, `{} {}`,
		`{"i8":127,"u16":65535,"i":-1,"f32":3.4e38,"f64":-0,"b":true,"pp":7,"s":"x","state":"active"}`,
		`{"i8":128}`, `{"u16":-1}`, `{"f32":3.5e38}`, `{"f64":1e400}`, `{"pp":null,"b":null,"m":null,"any":null}`,
		`{"arr":[1,2,3]}`, `{"arr":[1]}`, `{"strings":[]}`, `{"strings":null}`, `{"bytes":[1,255]}`, `{"bytes":"AQ=="}`,
		`{"m":{"a":null,"b":1.5}}`, `{"named":{"x":1}}`, `{"any":{"x":[1,"s",true,null,{"y":{}}]}}`, `{"any":1e400}`,
		`{"anys":[[],{},0.5]}`, `{"inner":{"inner":{"i":1}}}`, `{"-":2}`, `{"NoTag":3}`, `{"hidden":1}`,
		`{"Skipped":1}`, `{"at":{"x":1}}`, `{"kind":"operation","id":"x","note":"n"}`, `{"a":{"b":[1,2,{"c":3}]}}`, `{"a\u0000":1}`,
	} {
		for i := range decodeTargets {
			f.Add(uint8(i), []byte(seed))
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		typ := decodeTargets[int(which)%len(decodeTargets)]
		hang := time.AfterFunc(fuzzHang, func() { panic("decoding did not finish") })
		defer hang.Stop()
		ctx := context.Background()
		got := reflect.New(typ)
		err := decodeBody(ctx, body, got.Interface())

		want := reflect.New(typ)
		checkErr := checkBody(ctx, body, want.Type())
		var wantErr error = checkErr
		if checkErr == nil {
			wantErr = unmarshalChecked(body, want.Interface())
		}
		switch {
		case wantErr == nil && err == nil:
			if !reflect.DeepEqual(got.Elem().Interface(), want.Elem().Interface()) {
				t.Fatalf("%v from %q: one pass decoded %#v, two passes %#v", typ, body, got.Elem().Interface(), want.Elem().Interface())
			}
		case wantErr == nil:
			t.Fatalf("%v from %q: one pass refused (%v), two passes accepted", typ, body, err)
		case err == nil:
			t.Fatalf("%v from %q: one pass accepted, two passes refused (%v)", typ, body, wantErr)
		}
		if err == nil {
			return
		}
		var e *dc.Error
		if !errors.As(err, &e) || e.Code != dc.EInvalid || e.Message == "" {
			t.Fatalf("%v from %q: refusal %T %v", typ, body, err, err)
		}
		if checkErr != nil {
			// The check refused: the one pass refuses the same way.
			var ce *dc.Error
			if !errors.As(checkErr, &ce) || ce.Code != e.Code || ce.Field != e.Field || ce.Message != e.Message {
				t.Fatalf("%v from %q: one pass refused %q on %q, the check %q on %q", typ, body, e.Message, e.Field, ce.Message, ce.Field)
			}
		}
	})
}

// The bodies the handlers take are decoded in one pass, not checked and
// then decoded again by encoding/json.
func TestHandlerBodiesDecodeInOnePass(t *testing.T) {
	for _, typ := range decodeTargets[:6] {
		if !fillable(typ) {
			t.Errorf("%v is decoded in two passes", typ)
		}
	}
	for _, typ := range decodeTargets[len(decodeTargets)-2:] {
		if fillable(typ) {
			t.Errorf("%v is decoded in one pass, which cannot decode it as encoding/json does", typ)
		}
	}
}
