package forward

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/deconflict/deconflict/mechanism"
	"github.com/google/uuid"
)

// TestPeerFollowsNoRedirect: an answer on the channel that redirects
// (from a replica that holds the deployment's key, misconfigured or
// not: no one else gets past the handshake) is an answer whose outcome is
// unknown, like any other unsigned one. The peer sends the declarations
// nowhere else: not in the clear to an http:// URL, and not a second time
// to the writer, whose refusal of a request it saw already would
// otherwise have them written here too.
func TestPeerFollowsNoRedirect(t *testing.T) {
	secret, cert := testKeys(t)
	var plainHits atomic.Int32
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { plainHits.Add(1) }))
	defer plain.Close()
	toPlain := serveTLS(t, cert, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+Path, http.StatusTemporaryRedirect)
	}))

	// A writer that applies the hand-over, then answers with a
	// redirect to itself.
	var holding atomic.Bool
	holding.Store(true)
	m := newWriter(t)
	var h http.Handler
	var first atomic.Bool
	first.Store(true)
	toSelf := serveTLS(t, cert, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if first.CompareAndSwap(true, false) {
			h.ServeHTTP(httptest.NewRecorder(), r)
			http.Redirect(w, r, r.URL.Path, http.StatusTemporaryRedirect)
			return
		}
		h.ServeHTTP(w, r)
	}))
	h = Handler(m, secret, toSelf.URL, holding.Load, nil)

	for name, url := range map[string]string{"to plain HTTP": toPlain.URL, "to itself, having applied it": toSelf.URL} {
		p := peerTo(url, secret, cert)
		_, err := p.Forward(context.Background(), []mechanism.Forwarded{{Actor: alpha, ID: uuid.NewString(), Declaration: testDeclaration(33)}})
		if err == nil || errors.Is(err, mechanism.ErrNotForwarded) {
			t.Errorf("redirected %s: %v; want an unknown outcome (not ErrNotForwarded: that writes it here)", name, err)
		}
	}
	if n := plainHits.Load(); n != 0 {
		t.Errorf("the peer followed the redirect to plain HTTP: %d requests in the clear", n)
	}
	if n := m.Index().LiveOperations(); n != 1 {
		t.Errorf("the writer applied %d declarations, want 1", n)
	}
}
