package http

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	dc "github.com/deconflict/deconflict"
	"github.com/go-json-experiment/json/jsontext"
)

// The body walker reads a request body once, token by token, against
// the Go type it is decoded into, and refuses what the contract refuses
// (section 2.1) with the path of the field at fault: malformed JSON,
// duplicate names, invalid UTF-8 and escapes of lone surrogates (jsontext
// refuses those by default), NUL in a string, unknown fields, values of
// the wrong JSON type and numbers out of range. Given a destination, it
// stores each value there as it reads it, as encoding/json would (see
// decodeBody); without one, it only checks (checkBody).
//
// The work is linear in the body: each token is read once and costs
// O(1) (a map lookup for a name), and the path of a field is built only
// for the error that names it. The context is checked every few thousand
// tokens, so a client that hangs up stops the work.

// checkBody checks body against t without decoding it. A body checkBody
// accepts decodes with encoding/json into the same type without an error
// of its own (names are matched exactly, where encoding/json would also
// take another case: such a name is unknown here).
func checkBody(ctx context.Context, body []byte, t reflect.Type) error {
	_, err := walk(ctx, body, t, reflect.Value{})
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
	// outOfRange is the first number too large for the float64 of an
	// interface: refused once the body is read, since it is well-formed
	// and of a type the field takes (encoding/json does the same).
	outOfRange error
}

// pathSeg is one step of a path: an object member or an array index.
type pathSeg struct {
	name  string
	index int // -1 for a member
}

// ctxCheckEvery is how many tokens are read between looks at the context.
const ctxCheckEvery = 4096

// walk reads body as a value of type t into dst (if valid, a settable
// value of type t), answering the units of work it did.
func walk(ctx context.Context, body []byte, t reflect.Type, dst reflect.Value) (int, error) {
	bd := getDecoder(body)
	defer putDecoder(bd)
	w := &bodyWalker{ctx: ctx, body: body, dec: bd.dec}
	tok, err := w.next()
	if err == io.EOF {
		return w.steps, dc.Errorf(dc.EInvalid, "request body is empty; a JSON object is required")
	} else if err != nil {
		return w.steps, err
	}
	if err := w.value(tok, t, dst); err != nil {
		return w.steps, err
	}
	if _, err := w.next(); err != io.EOF {
		return w.steps, dc.Errorf(dc.EInvalid, "malformed JSON: more than one value in the body")
	}
	return w.steps, w.outOfRange
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

// value reads the value that starts with tok as a t (nil: any value)
// into dst, if dst is valid.
func (w *bodyWalker) value(tok jsontext.Token, t reflect.Type, dst reflect.Value) error {
	if tok.Kind() == 'n' {
		// As encoding/json: null makes a pointer, map, slice or
		// interface nil and leaves anything else as it is.
		if dst.IsValid() {
			switch dst.Kind() {
			case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
				dst.SetZero()
			}
		}
		return nil
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
		if dst.IsValid() {
			if dst.IsNil() {
				dst.Set(reflect.New(t))
			}
			dst = dst.Elem()
		}
	}
	if t != nil && t.Kind() == reflect.Interface {
		t = nil // dst, if valid, is an empty interface (see fillable)
	}
	switch k := tok.Kind(); k {
	case 't', 'f':
		if err := w.want(t, k, reflect.Bool); err != nil || !dst.IsValid() {
			return err
		}
		if dst.Kind() == reflect.Interface {
			dst.Set(reflect.ValueOf(k == 't'))
		} else {
			dst.SetBool(k == 't')
		}
		return nil
	case '"':
		s := tok.String()
		if strings.IndexByte(s, 0) >= 0 {
			field := w.pathString()
			return dc.FieldErrorf(dc.EInvalid, field, "%s contains a NUL character, which text may not", fieldOrBody(field))
		}
		if err := w.want(t, k, reflect.String); err != nil || !dst.IsValid() {
			return err
		}
		if dst.Kind() == reflect.Interface {
			dst.Set(reflect.ValueOf(s))
		} else {
			dst.SetString(s)
		}
		return nil
	case '0':
		return w.number(tok, t, dst)
	case '{':
		if dst.IsValid() && dst.Kind() == reflect.Interface {
			m := reflect.MakeMap(mapOfAny)
			err := w.object(mapOfAny, m)
			dst.Set(m)
			return err
		}
		return w.object(t, dst)
	case '[':
		if dst.IsValid() && dst.Kind() == reflect.Interface {
			s := reflect.New(sliceOfAny).Elem()
			err := w.array(sliceOfAny, s)
			dst.Set(s)
			return err
		}
		return w.array(t, dst)
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

// number reads a number (the token tok) as a t into dst: in range for a
// float, whole and in range for an integer. Into an interface it goes as
// a float64, as encoding/json puts it.
func (w *bodyWalker) number(tok jsontext.Token, t reflect.Type, dst reflect.Value) error {
	if t == nil {
		if !dst.IsValid() {
			return nil
		}
		f, err := strconv.ParseFloat(tok.String(), 64)
		if err == nil {
			dst.Set(reflect.ValueOf(f))
		} else if w.outOfRange == nil {
			field := w.pathString()
			w.outOfRange = dc.FieldErrorf(dc.EInvalid, field, "%s is out of range: %s", fieldOrBody(field), tok.String())
		}
		return nil
	}
	var err error
	switch t.Kind() {
	case reflect.Float32, reflect.Float64:
		var f float64
		if f, err = strconv.ParseFloat(tok.String(), t.Bits()); err != nil {
			field := w.pathString()
			return dc.FieldErrorf(dc.EInvalid, field, "%s is out of range: %s", fieldOrBody(field), tok.String())
		}
		if dst.IsValid() {
			dst.SetFloat(f)
		}
		return nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		var n int64
		if n, err = strconv.ParseInt(tok.String(), 10, t.Bits()); err == nil && dst.IsValid() {
			dst.SetInt(n)
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		var n uint64
		if n, err = strconv.ParseUint(tok.String(), 10, t.Bits()); err == nil && dst.IsValid() {
			dst.SetUint(n)
		}
	default:
		return w.typeError(t, "number")
	}
	if err != nil {
		field := w.pathString()
		return dc.FieldErrorf(dc.EInvalid, field, "%s must be a whole number within range, not %s", fieldOrBody(field), tok.String())
	}
	return nil
}

// object reads the members of an object (its '{' is read) as a t into
// dst: a struct's fields by their exact JSON names, or a map's values.
func (w *bodyWalker) object(t reflect.Type, dst reflect.Value) error {
	var fields map[string]field
	var elem reflect.Type
	switch {
	case t == nil:
	case t.Kind() == reflect.Struct:
		fields = fieldsOf(t)
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String:
		elem = t.Elem()
		if dst.IsValid() && dst.IsNil() {
			dst.Set(reflect.MakeMap(t))
		}
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
		// A name: jsontext allows nothing else here. A struct's field
		// is looked up without copying the name.
		var f field
		if fields != nil {
			var ok bool
			if f, ok = fields[tok.String()]; !ok {
				name := tok.String()
				w.path[top].name = name
				field := w.pathString()
				return dc.FieldErrorf(dc.EInvalid, field, "unknown field %q", name)
			}
			w.path[top].name = f.name
		} else {
			f = field{name: tok.String(), typ: elem, index: -1}
			w.path[top].name = f.name
		}
		if tok, err = w.next(); err != nil {
			return err
		}
		switch {
		case !dst.IsValid():
			err = w.value(tok, f.typ, reflect.Value{})
		case fields != nil:
			err = w.value(tok, f.typ, dst.Field(f.index))
		default:
			// A map's value is read into a zero value of its own, then
			// stored under its name.
			v := reflect.New(t.Elem()).Elem()
			if err = w.value(tok, f.typ, v); err == nil {
				k := reflect.New(t.Key()).Elem()
				k.SetString(f.name)
				dst.SetMapIndex(k, v)
			}
		}
		if err != nil {
			return err
		}
	}
}

// array reads the elements of an array (its '[' is read) as a t into
// dst: a slice grows to hold them all, an array takes as many as it has
// room for and the rest of it is zeroed, as encoding/json does.
func (w *bodyWalker) array(t reflect.Type, dst reflect.Value) error {
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
			if dst.IsValid() {
				w.endArray(dst, i)
			}
			return nil
		}
		w.path[top].index = i
		var into reflect.Value
		if dst.IsValid() {
			if dst.Kind() == reflect.Slice {
				if i >= dst.Cap() {
					dst.Grow(1)
				}
				if i >= dst.Len() {
					dst.SetLen(i + 1)
				}
			}
			if i < dst.Len() {
				into = dst.Index(i)
			}
		}
		if err := w.value(tok, elem, into); err != nil {
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
