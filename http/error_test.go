package http

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"testing"

	dc "github.com/deconflict/deconflict"
)

// A request whose client hung up is not a server error: no "internal
// error" in the log, and 499 in the metrics rather than 500.
func TestClientGoneIsNotAnInternalError(t *testing.T) {
	var logs bytes.Buffer
	s := &Server{log: slog.New(slog.NewTextHandler(&logs, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w := httptest.NewRecorder()
	s.writeError(w, httptest.NewRequest("GET", "/v1/operations", nil).WithContext(ctx), errors.New("select operations: context canceled"))
	if w.Code != statusClientClosed || logs.Len() != 0 {
		t.Fatalf("status %d, log %q", w.Code, logs.String())
	}
	// While the client is there, the same error is an internal one.
	w = httptest.NewRecorder()
	s.writeError(w, httptest.NewRequest("GET", "/v1/operations", nil), errors.New("disk on fire"))
	if w.Code != 500 || !bytes.Contains(logs.Bytes(), []byte("internal error")) {
		t.Fatalf("status %d, log %q", w.Code, logs.String())
	}
}

// While the index loads, the process answers: alive on /healthz, 503 with
// Retry-After everywhere else.
func TestStartingAnswers503(t *testing.T) {
	h := Starting()
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 503, "/v1/operations": 503} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		if w.Code != want || (want == 503 && w.Header().Get("Retry-After") == "") {
			t.Errorf("%s: %d %v, want %d", path, w.Code, w.Header(), want)
		}
	}
}

// An unavailable store (a database failing over) is answered 503 with
// Retry-After, so that clients try again rather than give up.
func TestUnavailableAnswers503RetryAfter(t *testing.T) {
	s := &Server{log: slog.New(slog.DiscardHandler)}
	w := httptest.NewRecorder()
	s.writeError(w, httptest.NewRequest("PUT", "/v1/operations/x", nil), dc.Errorf(dc.EUnavailable, "failing over"))
	if w.Code != 503 || w.Header().Get("Retry-After") == "" {
		t.Fatalf("status %d, headers %v", w.Code, w.Header())
	}
}
