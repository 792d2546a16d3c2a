package http

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	dc "github.com/deconflict/deconflict"
)

// MaxBody is the largest request body accepted (contract 2.1).
const MaxBody = 4 << 20

// presizedBody is the largest body read into a buffer of its announced
// Content-Length.
const presizedBody = 64 << 10

// writeJSON answers v as JSON with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// decode reads the request body as one JSON value into v, refusing what
// checkBody refuses, trailing data and bodies over MaxBody.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	return decodeBody(r.Context(), body, v)
}

// readBody reads the request body, refusing one over MaxBody.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	return readBodyInto(w, r, nil)
}

// readBodyInto reads the request body as readBody does, into buf if its
// announced length fits buf's capacity.
func readBodyInto(w http.ResponseWriter, r *http.Request, buf []byte) ([]byte, error) {
	if r.ContentLength > MaxBody {
		return nil, dc.Errorf(dc.ETooLarge, "request body is over %d bytes", MaxBody)
	}
	if n := r.ContentLength; n > 0 && n <= presizedBody {
		// net/http ends the body at its Content-Length: read into a
		// buffer of that size, at once. (A larger body grows its buffer
		// as it arrives, so that what a client only announces costs no
		// memory.)
		var body []byte
		if n <= int64(cap(buf)) {
			body = buf[:n]
		} else {
			body = make([]byte, n)
		}
		if _, err := io.ReadFull(r.Body, body); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, dc.Errorf(dc.EInvalid, "reading the request body: %v", err)
		}
		// Closed once read whole, net/http does not look for more of it
		// before the answer.
		_ = r.Body.Close()
		return body, nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, dc.Errorf(dc.ETooLarge, "request body is over %d bytes", MaxBody)
		}
		return nil, dc.Errorf(dc.EInvalid, "reading the request body: %v", err)
	}
	return body, nil
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
