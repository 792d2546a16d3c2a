package http

import (
	"bytes"
	"context"
	"encoding"
	"encoding/json"
	"reflect"
	"strings"
	"sync"

	dc "github.com/deconflict/deconflict"
	"github.com/go-json-experiment/json/jsontext"
)

// decodeBody decodes a request body into v (a non-nil pointer), refusing
// what the body walker refuses (body.go), in one pass: the walker stores
// each value as it checks it. The value is the one encoding/json would
// decode from a body the walker accepts, for every type fillable allows;
// a type it does not allow (one with its own UnmarshalJSON, say) is
// checked by the walker, then decoded by encoding/json.
//
// An interface field is set to what the body holds (map[string]any,
// []any, float64, string, bool or nil), as encoding/json does when the
// field is nil; request bodies are decoded into zero values.
func decodeBody(ctx context.Context, body []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || !fillable(rv.Type().Elem()) {
		if err := checkBody(ctx, body, reflect.TypeOf(v)); err != nil {
			return err
		}
		return unmarshalChecked(body, v)
	}
	_, err := walk(ctx, body, rv.Type().Elem(), rv.Elem())
	return err
}

// unmarshalChecked decodes a body checkBody has accepted into v.
func unmarshalChecked(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return dc.Errorf(dc.EInvalid, "malformed JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

// endArray finishes an array of n elements read into dst: a slice is cut
// to n (made empty, not nil, for []), the rest of an array zeroed.
func (w *bodyWalker) endArray(dst reflect.Value, n int) {
	switch {
	case dst.Kind() == reflect.Slice && n == 0:
		dst.Set(reflect.MakeSlice(dst.Type(), 0, 0))
	case dst.Kind() == reflect.Slice:
		dst.SetLen(n)
	default:
		for ; n < dst.Len(); n++ {
			dst.Index(n).SetZero()
		}
	}
}

// walkBody decodes body into a new value of type t as decodeBody does,
// answering the units of work the walker did.
func walkBody(ctx context.Context, body []byte, t reflect.Type) (int, error) {
	if !fillable(t) {
		return walk(ctx, body, t, reflect.Value{})
	}
	return walk(ctx, body, t, reflect.New(t).Elem())
}

// The types a map or slice read into an interface takes.
var (
	mapOfAny   = reflect.TypeFor[map[string]any]()
	sliceOfAny = reflect.TypeFor[[]any]()
)

// field is a struct field by its JSON name.
type field struct {
	name  string // the JSON name
	typ   reflect.Type
	index int // in its struct; -1 for a field of an embedded struct
}

// structFields caches fieldsOf by type.
var structFields sync.Map // reflect.Type → map[string]field

// fieldsOf maps the JSON names of a struct's fields (those of embedded
// structs without a name of their own included, as encoding/json does)
// to their fields.
func fieldsOf(t reflect.Type) map[string]field {
	if m, ok := structFields.Load(t); ok {
		return m.(map[string]field)
	}
	out := map[string]field{}
	addFields(out, t, true)
	structFields.Store(t, out)
	return out
}

func addFields(out map[string]field, t reflect.Type, top bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" && !strings.HasPrefix(tag, "-,") {
			continue
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			addFields(out, ft, false)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, taken := out[name]; !taken {
			index := -1
			if top {
				index = i
			}
			out[name] = field{name: name, typ: f.Type, index: index}
		}
	}
}

// fillableTypes caches fillable by type.
var fillableTypes sync.Map // reflect.Type → bool

// fillable reports whether the walker decodes into t itself, exactly as
// encoding/json would: t is built of booleans, strings, numbers,
// pointers, slices, arrays, maps with string keys, empty interfaces and
// structs without embedded fields, ",string" options or two fields of
// one JSON name, and nothing in it has an UnmarshalJSON or UnmarshalText
// of its own.
func fillable(t reflect.Type) bool {
	if ok, found := fillableTypes.Load(t); found {
		return ok.(bool)
	}
	ok := fillableType(t, map[reflect.Type]bool{})
	fillableTypes.Store(t, ok)
	return ok
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func fillableType(t reflect.Type, seen map[reflect.Type]bool) bool {
	if seen[t] {
		return true // a type that holds itself: decided where it started
	}
	seen[t] = true
	for _, u := range []reflect.Type{t, reflect.PointerTo(t)} {
		if u.Implements(jsonUnmarshaler) || u.Implements(textUnmarshaler) {
			return false
		}
	}
	switch t.Kind() {
	case reflect.Bool, reflect.String, reflect.Float32, reflect.Float64,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return true
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return fillableType(t.Elem(), seen)
	case reflect.Map:
		return t.Key().Kind() == reflect.String && fillableType(t.Key(), seen) && fillableType(t.Elem(), seen)
	case reflect.Interface:
		return t.NumMethod() == 0
	case reflect.Struct:
		names := map[string]bool{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if f.Anonymous {
				return false
			}
			tag := f.Tag.Get("json")
			name, opts, _ := strings.Cut(tag, ",")
			if tag == "-" || !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			for _, o := range strings.Split(opts, ",") {
				if o == "string" {
					return false
				}
			}
			if names[name] || !fillableType(f.Type, seen) {
				return false
			}
			names[name] = true
		}
		return true
	}
	return false
}

// bodyDecoder is a jsontext decoder reading from a body in memory
// (jsontext reads a bytes.Buffer without copying it), kept for reuse.
type bodyDecoder struct {
	dec *jsontext.Decoder
	buf bytes.Buffer
}

var bodyDecoders sync.Pool // *bodyDecoder

// getDecoder returns a decoder of body with jsontext's default options:
// no duplicate names, no invalid UTF-8, no escaped lone surrogates.
func getDecoder(body []byte) *bodyDecoder {
	d, _ := bodyDecoders.Get().(*bodyDecoder)
	if d == nil {
		d = &bodyDecoder{}
		d.buf = *bytes.NewBuffer(body)
		d.dec = jsontext.NewDecoder(&d.buf)
		return d
	}
	d.buf = *bytes.NewBuffer(body)
	d.dec.Reset(&d.buf)
	return d
}

// putDecoder keeps d for another body, without holding on to this one.
func putDecoder(d *bodyDecoder) {
	d.buf = bytes.Buffer{}
	d.dec.Reset(&d.buf)
	bodyDecoders.Put(d)
}
