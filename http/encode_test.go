package http

import (
	"io"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	dc "github.com/deconflict/deconflict"
)

// TestReadBody checks the body a handler reads: whole, whether its length
// is announced, small or large, or not; refused when it is shorter than
// announced or over MaxBody.
func TestReadBody(t *testing.T) {
	for _, tc := range []struct {
		name   string
		body   string
		length int64 // the Content-Length announced; -1: none
		code   string
	}{
		{"announced", `{"volumes":[]}`, 14, ""},
		{"not announced", `{"volumes":[]}`, -1, ""},
		{"announced, past the presized", strings.Repeat("x", presizedBody+1), presizedBody + 1, ""},
		{"shorter than announced", `{"volumes":[]}`, 20, dc.EInvalid},
		{"empty, announced longer", ``, 5, dc.EInvalid},
		{"over MaxBody, announced", ``, MaxBody + 1, dc.ETooLarge},
		{"over MaxBody, not announced", strings.Repeat("x", MaxBody+1), -1, dc.ETooLarge},
	} {
		// Read by readBody, and into buffers it fits and does not fit,
		// as a check reads it.
		for _, buf := range []int{-1, 16, 4 << 10} {
			t.Run(tc.name+"/buffer "+strconv.Itoa(buf), func(t *testing.T) {
				// A body that comes a byte at a time, as a slow client sends it.
				r := httptest.NewRequest("POST", "/v1/check", io.NopCloser(iotest.OneByteReader(strings.NewReader(tc.body))))
				r.ContentLength = tc.length
				var got []byte
				var err error
				if buf < 0 {
					got, err = readBody(httptest.NewRecorder(), r)
				} else {
					got, err = readBodyInto(httptest.NewRecorder(), r, make([]byte, 3, buf))
				}
				if code := dc.ErrorCode(err); code != tc.code {
					t.Fatalf("error %v (%s), want code %q", err, code, tc.code)
				}
				if tc.code == "" && string(got) != tc.body {
					t.Fatalf("read %d bytes, want the %d sent", len(got), len(tc.body))
				}
			})
		}
	}
}
