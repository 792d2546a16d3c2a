package http

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	dc "github.com/deconflict/deconflict"
	"github.com/go-json-experiment/json/jsontext"
)

// checkBody reads a request body once, token by token, against the Go
// type it is about to be decoded into, and refuses what the contract
// refuses (section 2.1) with the path of the field at fault: malformed
// JSON, duplicate names, invalid UTF-8 and escapes of lone surrogates
// (jsontext refuses those by default), NUL in a string, unknown fields,
// values of the wrong JSON type and numbers out of range.
//
// The work is linear in the body: each token is read once and costs
// O(1) (a map lookup for a name), and the path of a field is built only
// for the error that names it. The context is checked every few thousand
// tokens, so a client that hangs up stops the work.
//
// A body checkBody accepts decodes with encoding/json into the same type
// without an error of its own (names are matched exactly, where
// encoding/json would also take another case: such a name is unknown here).
func checkBody(ctx context.Context, body []byte, t reflect.Type) error {
	_, err := walkBody(ctx, body, t)
	return err
}

// bodyWalker is the state of one checkBody.
type bodyWalker struct {
	ctx  context.Context
	body []byte
	dec  *jsontext.Decoder
	path []pathSeg // where the value being read sits
	// steps counts the units of work done (tokens read and path segments
	// formatted); tests assert it stays linear in the body.
	steps int
}

// pathSeg is one step of a path: an object member or an array index.
type pathSeg struct {
	name  string
	index int // -1 for a member
}

// ctxCheckEvery is how many tokens are read between looks at the context.
const ctxCheckEvery = 4096

// walkBody is checkBody, also answering the units of work it did.
func walkBody(ctx context.Context, body []byte, t reflect.Type) (int, error) {
	w := &bodyWalker{ctx: ctx, body: body, dec: jsontext.NewDecoder(bytes.NewReader(body))}
	tok, err := w.next()
	if err == io.EOF {
		return w.steps, dc.Errorf(dc.EInvalid, "request body is empty; a JSON object is required")
	} else if err != nil {
		return w.steps, err
	}
	if err := w.value(tok, t); err != nil {
		return w.steps, err
	}
	if _, err := w.next(); err != io.EOF {
		return w.steps, dc.Errorf(dc.EInvalid, "malformed JSON: more than one value in the body")
	}
	return w.steps, nil
}

// next reads one token.
func (w *bodyWalker) next() (jsontext.Token, error) {
	w.steps++
	if w.steps%ctxCheckEvery == 0 {
		if err := w.ctx.Err(); err != nil {
			return jsontext.Token{}, fmt.Errorf("read body: %w", err)
		}
	}
	tok, err := w.dec.ReadToken()
	if err == nil || err == io.EOF {
		return tok, err
	}
	var se *jsontext.SyntacticError
	if errors.As(err, &se) {
		return tok, w.syntaxError(se)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return tok, dc.Errorf(dc.EInvalid, "malformed JSON: the body ends too early")
	}
	return tok, dc.Errorf(dc.EInvalid, "malformed JSON: %v", err)
}

// syntaxError names the field of a syntactic error where there is one.
func (w *bodyWalker) syntaxError(se *jsontext.SyntacticError) error {
	if errors.Is(se.Err, io.ErrUnexpectedEOF) {
		return dc.Errorf(dc.EInvalid, "malformed JSON: the body ends too early")
	}
	field := w.pointerPath(se.JSONPointer)
	what := strings.TrimPrefix(se.Err.Error(), "jsontext: ")
	switch {
	case strings.Contains(what, "duplicate"):
		return dc.FieldErrorf(dc.EInvalid, field, "duplicate key %s: each name may appear once in an object", field)
	case strings.Contains(what, "UTF-8"):
		at := se.ByteOffset
		if at >= 0 && at <= int64(len(w.body)) {
			at += int64(invalidUTF8At(w.body[at:]))
		}
		return dc.FieldErrorf(dc.EInvalid, field, "%s is not valid UTF-8 (at byte %d)", fieldOrBody(field), at)
	case strings.Contains(what, "surrogate"):
		return dc.FieldErrorf(dc.EInvalid, field, "%s escapes a lone surrogate (%s at byte %d), which is not text", fieldOrBody(field), what, se.ByteOffset)
	}
	if field == "" {
		return dc.Errorf(dc.EInvalid, "malformed JSON at byte %d: %s", se.ByteOffset, what)
	}
	return dc.FieldErrorf(dc.EInvalid, field, "malformed JSON at byte %d in %s: %s", se.ByteOffset, field, what)
}

func fieldOrBody(field string) string {
	if field == "" {
		return "the body"
	}
	return field
}

// value checks the value that starts with tok against t (nil: any value).
func (w *bodyWalker) value(tok jsontext.Token, t reflect.Type) error {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil && t.Kind() == reflect.Interface {
		t = nil
	}
	switch k := tok.Kind(); k {
	case 'n':
		return nil // null leaves any field as it is
	case 't', 'f':
		return w.want(t, k, reflect.Bool)
	case '"':
		if strings.IndexByte(tok.String(), 0) >= 0 {
			field := w.pathString()
			return dc.FieldErrorf(dc.EInvalid, field, "%s contains a NUL character, which text may not", fieldOrBody(field))
		}
		return w.want(t, k, reflect.String)
	case '0':
		return w.number(tok.String(), t)
	case '{':
		return w.object(t)
	case '[':
		return w.array(t)
	}
	return dc.Errorf(dc.EInvalid, "malformed JSON: unexpected %v", tok.Kind())
}

// want checks that a scalar of JSON kind k may go into t.
func (w *bodyWalker) want(t reflect.Type, k jsontext.Kind, kinds ...reflect.Kind) error {
	if t == nil {
		return nil
	}
	for _, want := range kinds {
		if t.Kind() == want {
			return nil
		}
	}
	return w.typeError(t, kindName(k))
}

func (w *bodyWalker) typeError(t reflect.Type, got string) error {
	field := w.pathString()
	if field == "" {
		return dc.Errorf(dc.EInvalid, "the body must be a JSON %s, not %s", jsonKindOf(t), got)
	}
	return dc.FieldErrorf(dc.EInvalid, field, "%s must be of type %s, not %s", field, jsonKindOf(t), got)
}

// number checks a number literal against t: in range for a float, whole
// and in range for an integer.
func (w *bodyWalker) number(lit string, t reflect.Type) error {
	if t == nil {
		return nil
	}
	var err error
	switch t.Kind() {
	case reflect.Float32, reflect.Float64:
		if _, err = strconv.ParseFloat(lit, t.Bits()); err != nil {
			field := w.pathString()
			return dc.FieldErrorf(dc.EInvalid, field, "%s is out of range: %s", fieldOrBody(field), lit)
		}
		return nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		_, err = strconv.ParseInt(lit, 10, t.Bits())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		_, err = strconv.ParseUint(lit, 10, t.Bits())
	default:
		return w.typeError(t, "number")
	}
	if err != nil {
		field := w.pathString()
		return dc.FieldErrorf(dc.EInvalid, field, "%s must be a whole number within range, not %s", fieldOrBody(field), lit)
	}
	return nil
}

// object checks the members of an object (its '{' is read) against t: a
// struct's fields by their exact JSON names, or a map's values.
func (w *bodyWalker) object(t reflect.Type) error {
	var fields map[string]reflect.Type
	var elem reflect.Type
	switch {
	case t == nil:
	case t.Kind() == reflect.Struct:
		fields = fieldsOf(t)
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String:
		elem = t.Elem()
	default:
		return w.typeError(t, "object")
	}
	w.path = append(w.path, pathSeg{index: -1})
	top := len(w.path) - 1
	for {
		tok, err := w.next()
		if err != nil {
			return err
		}
		if tok.Kind() == '}' {
			w.path = w.path[:top]
			return nil
		}
		name := tok.String() // a name: jsontext allows nothing else here
		w.path[top].name = name
		ft := elem
		if fields != nil {
			var ok bool
			if ft, ok = fields[name]; !ok {
				field := w.pathString()
				return dc.FieldErrorf(dc.EInvalid, field, "unknown field %q", name)
			}
		}
		if tok, err = w.next(); err != nil {
			return err
		}
		if err := w.value(tok, ft); err != nil {
			return err
		}
	}
}

// array checks the elements of an array (its '[' is read) against t.
func (w *bodyWalker) array(t reflect.Type) error {
	var elem reflect.Type
	if t != nil {
		if t.Kind() != reflect.Slice && t.Kind() != reflect.Array {
			return w.typeError(t, "array")
		}
		elem = t.Elem()
	}
	w.path = append(w.path, pathSeg{index: 0})
	top := len(w.path) - 1
	for i := 0; ; i++ {
		tok, err := w.next()
		if err != nil {
			return err
		}
		if tok.Kind() == ']' {
			w.path = w.path[:top]
			return nil
		}
		w.path[top].index = i
		if err := w.value(tok, elem); err != nil {
			return err
		}
	}
}

// pathString formats the path of the value being read, such as
// volumes[0].volume.outline_polygon.vertices[3].lat.
func (w *bodyWalker) pathString() string {
	var b strings.Builder
	for _, s := range w.path {
		w.steps++
		if s.index >= 0 {
			b.WriteString("[" + strconv.Itoa(s.index) + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.name)
	}
	return b.String()
}

// pointerPath turns a JSON Pointer (RFC 6901) of the body into a path:
// /volumes/0/volume becomes volumes[0].volume. A segment of digits is an
// index wherever the walker's own path has an array at that depth.
func (w *bodyWalker) pointerPath(p jsontext.Pointer) string {
	if p == "" {
		return ""
	}
	var b strings.Builder
	depth := 0
	for seg := range p.Tokens() {
		w.steps++
		isIndex := depth < len(w.path) && w.path[depth].index >= 0
		if isIndex {
			b.WriteString("[" + seg + "]")
		} else {
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(seg)
		}
		depth++
	}
	return b.String()
}

// kindName names a JSON kind in error messages.
func kindName(k jsontext.Kind) string {
	switch k {
	case 't', 'f':
		return "boolean"
	case '"':
		return "string"
	case '0':
		return "number"
	case '{':
		return "object"
	case '[':
		return "array"
	}
	return "null"
}

// jsonKindOf names the JSON kind a Go type takes.
func jsonKindOf(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "boolean"
	case reflect.String:
		return "string"
	case reflect.Float32, reflect.Float64, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	}
	return "object"
}

// structFields caches fieldsOf by type.
var structFields sync.Map // reflect.Type → map[string]reflect.Type

// fieldsOf maps the JSON names of a struct's fields (those of embedded
// structs without a name of their own included, as encoding/json does)
// to their types.
func fieldsOf(t reflect.Type) map[string]reflect.Type {
	if m, ok := structFields.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	out := map[string]reflect.Type{}
	addFields(out, t)
	structFields.Store(t, out)
	return out
}

func addFields(out map[string]reflect.Type, t reflect.Type) {
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
			addFields(out, ft)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, taken := out[name]; !taken {
			out[name] = f.Type
		}
	}
}

// unmarshalChecked decodes a body checkBody has accepted into v.
func unmarshalChecked(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return dc.Errorf(dc.EInvalid, "malformed JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

// invalidUTF8At returns the offset of the first byte of b that is not
// valid UTF-8.
func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// decodeBody decodes body into v, refusing what checkBody refuses.
func decodeBody(ctx context.Context, body []byte, v any) error {
	if err := checkBody(ctx, body, reflect.TypeOf(v)); err != nil {
		return err
	}
	return unmarshalChecked(body, v)
}
