package storeval

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestScanAudience checks that the audiences the stores write are read
// without a decoder, as encoding/json reads them, and that any other
// form is left to decodeDoc.
func TestScanAudience(t *testing.T) {
	for _, a := range [][]string{nil, {}, {"alpha"}, {"alpha", "bravo", "charlie-2 x"}, {""}} {
		doc, _ := json.Marshal(a)
		got, ok := scanAudience(string(doc))
		if !ok || !reflect.DeepEqual(got, a) {
			t.Errorf("%s: got %#v, %v; want %#v", doc, got, ok, a)
		}
	}
	for _, doc := range []string{`["a\"b"]`, `["é"]`, `[ "a"]`, `["a",]`, `["a" ,"b"]`, `[1]`, `{}`, `"a"`, `[`, `["a"`, `nul`, ``} {
		if got, ok := scanAudience(doc); ok {
			t.Errorf("%s: scanned as %#v, not left to decodeDoc", doc, got)
		}
	}
}

// FuzzScanAudience holds scanAudience to encoding/json: an audience it
// reads, encoding/json decodes without error to the same list.
func FuzzScanAudience(f *testing.F) {
	for _, s := range []string{`null`, `[]`, `["alpha"]`, `["alpha","bravo"]`, `["a\\b"]`, `["a",`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		got, ok := scanAudience(doc)
		if !ok {
			return
		}
		var want []string
		if err := json.Unmarshal([]byte(doc), &want); err != nil {
			t.Fatalf("scanned %s, which encoding/json refuses: %v", doc, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: got %#v, want %#v", doc, got, want)
		}
	})
}
