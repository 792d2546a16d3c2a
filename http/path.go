package http

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
)

// Paths of fields at fault in a JSON body, with array indices, such as
// volumes[0].volume.outline_polygon.vertices[3].lat. encoding/json names
// the field of a type error without indices and an unknown field without
// its parents; these walk the body again to find the exact place.

// pathAtOffset returns the path of the value that ends at byte offset in
// body (where encoding/json reports a type error).
func pathAtOffset(body []byte, offset int64) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // a number out of float64's range is a token too
	var path []string
	var arrays []int // index within each open array, -1 for objects
	var expectKey []bool
	last := ""
	for {
		tok, err := dec.Token()
		if err != nil {
			return last
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				arrays, expectKey = append(arrays, -1), append(expectKey, true)
				continue
			case '[':
				arrays, expectKey = append(arrays, 0), append(expectKey, false)
				path = append(path, "[0]")
				continue
			case '}', ']':
				if t == ']' {
					path = path[:len(path)-1]
				}
				arrays, expectKey = arrays[:len(arrays)-1], expectKey[:len(expectKey)-1]
			}
		default:
			n := len(expectKey)
			if n > 0 && expectKey[n-1] {
				path = append(path, t.(string))
				expectKey[n-1] = false
				continue
			}
		}
		// A whole value ended here.
		last = joinPath(path)
		if dec.InputOffset() >= offset {
			return last
		}
		n := len(arrays)
		if n == 0 {
			continue
		}
		if arrays[n-1] >= 0 {
			arrays[n-1]++
			path[len(path)-1] = "[" + strconv.Itoa(arrays[n-1]) + "]"
		} else {
			path = path[:len(path)-1]
			expectKey[n-1] = true
		}
	}
}

// unknownFieldPath returns the path of the first object key in body that
// the type t (the target of decoding) has no field for.
func unknownFieldPath(body []byte, t reflect.Type) string {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	return findUnknown(v, t, nil)
}

func findUnknown(v any, t reflect.Type, path []string) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch x := v.(type) {
	case map[string]any:
		if t.Kind() != reflect.Struct {
			return ""
		}
		fields := jsonFields(t)
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sortStrings(keys)
		for _, k := range keys {
			ft, ok := fields[k]
			if !ok {
				return joinPath(append(path, k))
			}
			if p := findUnknown(x[k], ft, append(path, k)); p != "" {
				return p
			}
		}
	case []any:
		if t.Kind() != reflect.Slice && t.Kind() != reflect.Array {
			return ""
		}
		for i, e := range x {
			if p := findUnknown(e, t.Elem(), append(path, "["+strconv.Itoa(i)+"]")); p != "" {
				return p
			}
		}
	}
	return ""
}

// jsonFields maps the JSON names of a struct's fields to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

func joinPath(path []string) string {
	var b strings.Builder
	for _, p := range path {
		if b.Len() > 0 && !strings.HasPrefix(p, "[") {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
