package federation

import (
	"bytes"
	"io"
	"net/http"
	"runtime"
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

// TestReadBodyAnnouncedOnly: a reply that declares a long body and sends
// a short one costs the puller memory for what it sent, not for what it
// declared: a hostile peer's headers alone must not hold a page's worth
// of the puller's memory before its reply is even verified.
func TestReadBodyAnnouncedOnly(t *testing.T) {
	resp := &http.Response{ContentLength: MaxPage, Body: io.NopCloser(strings.NewReader("0123456789"))}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got, _ := readBody(resp, MaxPage)
	runtime.ReadMemStats(&after)
	if string(got) != "0123456789" {
		t.Fatalf("read %q", got)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > MaxPage/4 {
		t.Errorf("a reply declaring %d bytes and sending 10 cost %d bytes of memory", int64(MaxPage), n)
	}
}
