package forward

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deconflict/deconflict/mechanism"
	"github.com/google/uuid"
)

// recorder is a RoundTripper that keeps the requests it carries, in the
// clear, as one who got past TLS (a debugging proxy on a replica's
// machine, say) could.
type recorder struct {
	next http.RoundTripper
	reqs []captured
}

type captured struct {
	header http.Header
	body   []byte
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(req.Body)
	r.reqs = append(r.reqs, captured{req.Header.Clone(), body})
	req.Body = io.NopCloser(bytes.NewReader(body))
	return r.next.RoundTrip(req)
}

// pinnedClient returns an HTTP client that dials as a replica holding
// cert does: whoever replays a request got past TLS, the HMAC is what
// stops it.
func pinnedClient(cert tls.Certificate) *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: clientTLS(cert)}}
}

// replay sends a captured request again to url over a client holding cert
// and returns the status.
func replay(t *testing.T, url string, cert tls.Certificate, c captured) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+Path, bytes.NewReader(c.body))
	req.Header = c.header.Clone()
	resp, err := pinnedClient(cert).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestReplayRefused: a signed hand-over captured in the clear and sent
// again within the minute its signature is good for writes nothing: not
// to the writer it was sent to (where it would undo the declaration that
// followed it), not to another replica of the deployment that holds the
// lease, and not to the writer started again.
func TestReplayRefused(t *testing.T) {
	secret, cert := testKeys(t)
	var holding atomic.Bool
	holding.Store(true)
	m, srv := writerOn(t, secret, cert, &holding)
	p := peerTo(srv.URL, secret, cert)
	rec := &recorder{next: p.client.Transport}
	p.client.Transport = rec
	id := uuid.NewString()
	two, one := 2, 1
	forward := func(ifMatch *int, lat float64) mechanism.ForwardedOutcome {
		outs, err := p.Forward(context.Background(), []mechanism.Forwarded{{Actor: alpha, ID: id, Declaration: testDeclaration(lat), IfMatch: ifMatch}})
		if err != nil {
			t.Fatal(err)
		}
		return outs[0]
	}
	forward(nil, 33)
	if o := forward(&two, 35); o.Err == nil { // refused: the operation is at version 1
		t.Fatalf("If-Match 2 on version 1 taken: %+v", o.Result.Operation)
	}
	forward(&one, 34)
	// The refused replacement, sent again: it would match version 2 now.
	if got := replay(t, srv.URL, cert, rec.reqs[1]); got == http.StatusOK {
		t.Errorf("the writer took a replayed hand-over: %d", got)
	}
	res, err := m.Operation(context.Background(), alpha, id)
	if err != nil {
		t.Fatal(err)
	}
	if l, v := float64(*res.Operation.Volumes[0].Volume.OutlineCircle.Center.Lat), res.Operation.Version; l != 34 || v != 2 {
		t.Errorf("after a replay the operation is at latitude %v, version %d; want 34, version 2", l, v)
	}

	var holding2 atomic.Bool
	holding2.Store(true)
	m2, srv2 := writerOn(t, secret, cert, &holding2)
	if got := replay(t, srv2.URL, cert, rec.reqs[0]); got == http.StatusOK || m2.Index().LiveOperations() != 0 {
		t.Errorf("another replica took a hand-over meant for the writer: %d, %d operations", got, m2.Index().LiveOperations())
	}

	// The same writer started again, with no memory of what it took.
	restarted := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, Path, bytes.NewReader(rec.reqs[1].body))
	req.Header = rec.reqs[1].header.Clone()
	handler(m, secret, srv.URL, holding.Load, nil, newNonces(time.Now().Add(time.Second))).ServeHTTP(restarted, req)
	if restarted.Code == http.StatusOK {
		t.Errorf("a writer started again took a hand-over sent to it before: %d", restarted.Code)
	}
}
