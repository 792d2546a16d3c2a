package federation

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestReadBody: a reply's body is read whole whatever length it declares
// (none, its own, less or more), and never beyond a byte past max.
func TestReadBody(t *testing.T) {
	const max = 16
	for _, c := range []struct {
		body     string
		declared int64
		want     string
	}{
		{"0123456789", 10, "0123456789"},
		{"0123456789", -1, "0123456789"},
		{"0123456789", 3, "0123456789"},
		{"0123456789", 12, "0123456789"},
		{"0123456789", 100, "0123456789"},
		{"", 0, ""},
		{strings.Repeat("x", 40), 40, strings.Repeat("x", max+1)},
		{strings.Repeat("x", 40), 5, strings.Repeat("x", max+1)},
		{strings.Repeat("x", max+1), max, strings.Repeat("x", max+1)},
	} {
		resp := &http.Response{ContentLength: c.declared, Body: io.NopCloser(bytes.NewReader([]byte(c.body)))}
		got, err := readBody(resp, max)
		if err != nil || string(got) != c.want {
			t.Errorf("a body of %d bytes declaring %d: read %q, %v; want %q", len(c.body), c.declared, got, err, c.want)
		}
	}
}
