package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	dc "github.com/deconflict/deconflict"
)

// MaxBody is the largest request body accepted (contract 2.1).
const MaxBody = 4 << 20

// writeJSON answers v as JSON with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// decode reads the request body as one JSON value into v, rejecting
// unknown fields, trailing data and bodies over MaxBody.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	if r.ContentLength > MaxBody {
		return dc.Errorf(dc.ETooLarge, "request body is over %d bytes", MaxBody)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		return decodeError(err, nil, nil)
	}
	// encoding/json would take invalid UTF-8 in a string as U+FFFD: a
	// message would be stored other than it was sent.
	if !utf8.Valid(body) {
		return dc.Errorf(dc.EInvalid, "malformed JSON: the body is not valid UTF-8 (at byte %d)", invalidUTF8At(body))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err, body, reflect.TypeOf(v))
	}
	if _, err := dec.Token(); err != io.EOF {
		return dc.Errorf(dc.EInvalid, "malformed JSON: more than one value in the body")
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

// decodeError turns an encoding/json error into an *dc.Error that names
// the field where it can, with its full path in body (decoded into t).
func decodeError(err error, body []byte, t reflect.Type) error {
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
		mbe    *http.MaxBytesError
	)
	switch {
	case errors.As(err, &mbe):
		return dc.Errorf(dc.ETooLarge, "request body is over %d bytes", MaxBody)
	case errors.Is(err, io.EOF):
		return dc.Errorf(dc.EInvalid, "request body is empty; a JSON object is required")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return dc.Errorf(dc.EInvalid, "malformed JSON: the body ends too early")
	case errors.As(err, &syntax):
		return dc.Errorf(dc.EInvalid, "malformed JSON at byte %d: %s", syntax.Offset, syntax.Error())
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return dc.Errorf(dc.EInvalid, "the body must be a JSON object, not a %s", typ.Value)
		}
		if p := pathAtOffset(body, typ.Offset); p != "" {
			field = p
		}
		want := jsonType(typ.Type.String())
		if got, ok := strings.CutPrefix(typ.Value, "number "); ok && want == "number" {
			if k := typ.Type.Kind(); k == reflect.Float32 || k == reflect.Float64 {
				return dc.FieldErrorf(dc.EInvalid, field, "%s is out of range: %s", field, got)
			}
			return dc.FieldErrorf(dc.EInvalid, field, "%s must be a whole number within range, not %s", field, got)
		}
		return dc.FieldErrorf(dc.EInvalid, field, "%s must be of type %s, not %s", field, want, typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		field := name
		if t != nil {
			if p := unknownFieldPath(body, t); p != "" {
				field = p
			}
		}
		return dc.FieldErrorf(dc.EInvalid, field, "unknown field %q", name)
	}
	return dc.Errorf(dc.EInvalid, "malformed JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
}

// jsonType names a Go type as its JSON kind, for error messages.
func jsonType(goType string) string {
	goType = strings.TrimLeft(goType, "*")
	switch {
	case strings.HasPrefix(goType, "float"), strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "number"
	case goType == "string", strings.HasSuffix(goType, ".State"), strings.HasSuffix(goType, ".Role"):
		return "string"
	case goType == "bool":
		return "boolean"
	case strings.HasPrefix(goType, "[]"):
		return "array"
	}
	return "object"
}

// parseIfMatch reads the If-Match header: "VERSION" or W/"VERSION".
// It returns nil when the header is absent.
func parseIfMatch(r *http.Request) (*int, error) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" {
		return nil, nil
	}
	h = strings.Trim(strings.TrimPrefix(h, "W/"), `"`)
	v, err := strconv.Atoi(h)
	if err != nil || v < 1 {
		return nil, dc.FieldErrorf(dc.EInvalid, "If-Match", "If-Match must be a version such as \"3\", not %q", r.Header.Get("If-Match"))
	}
	return &v, nil
}

// etag returns the ETag of a version.
func etag(version int) string { return fmt.Sprintf(`"%d"`, version) }
