package federation

import (
	"crypto/rand"
	"reflect"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// FuzzParseDescriptor feeds arbitrary bytes, as a peer's operator could
// paste them, to the descriptor parser: it never panics, and what it
// accepts is valid and prints back to the same descriptor.
func FuzzParseDescriptor(f *testing.F) {
	_, key, err := note.GenerateKey(rand.Reader, "alpha-k1")
	if err != nil {
		f.Fatal(err)
	}
	if _, err := ParseDescriptor([]byte(`{"parties":["alpha"],"url":"https://alpha.example","key":"` + key + `","area":[[1,2,3,4]]}`)); err != nil {
		f.Fatalf("the seed descriptor does not parse: %v", err)
	}
	f.Add([]byte(`{"parties":["alpha"],"url":"https://alpha.example","key":"` + key + `"}`))
	f.Add([]byte(`{"parties":["alpha"],"url":"https://alpha.example","key":"` + key + `","area":[[10.5,10,11,10.5],[170,-5,-170,5]]}`))
	f.Add([]byte(`{"parties":["alpha"],"url":"https://alpha.example","key":"` + key + `","area":[[1,2,3]]}`))
	f.Add([]byte(`{"parties":["alpha"],"url":"https://alpha.example","key":"` + key + `","area":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseDescriptor(b)
		if err != nil {
			return
		}
		if err := d.Validate(); err != nil {
			t.Fatalf("accepted %s, which does not validate: %v", b, err)
		}
		again, err := ParseDescriptor([]byte(d.String()))
		if err != nil || !reflect.DeepEqual(again, d) {
			t.Fatalf("%s printed back as %s, which reads as %+v, %v", b, d.String(), again, err)
		}
	})
}
