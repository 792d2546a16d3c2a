package forward

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/sqlite"
	"github.com/google/uuid"
)

// testKeys returns a secret and a channel certificate, as a deployment's
// replicas share them.
func testKeys(t *testing.T) ([]byte, tls.Certificate) {
	t.Helper()
	return []byte("0123456789abcdef0123456789abcdef"), testCertificate(t)
}

// testCertificate returns a fresh channel certificate: another
// deployment's, each time.
func testCertificate(t *testing.T) tls.Certificate {
	t.Helper()
	v, err := newCertificate(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := parseCertificate(v)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// newWriter returns a mechanism on a fresh store with parties alpha and
// bravo.
func newWriter(t *testing.T) *mechanism.Mechanism {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir()+"/d.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	m := mechanism.New(st, mechanism.Options{})
	if err := m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"alpha", "bravo"} {
		if _, err := m.Access().AddParty(ctx, p, ""); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// serveTLS serves h over TLS with cert (ServerTLS) and returns the server.
func serveTLS(t *testing.T, cert tls.Certificate, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = ServerTLS(cert)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// writerOn returns a mechanism on a fresh store with parties alpha and
// bravo, serving the channel with secret and cert while holding is true.
func writerOn(t *testing.T, secret []byte, cert tls.Certificate, holding *atomic.Bool) (*mechanism.Mechanism, *httptest.Server) {
	t.Helper()
	m := newWriter(t)
	var h http.Handler
	srv := serveTLS(t, cert, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	h = Handler(m, secret, srv.URL, holding.Load, nil)
	return m, srv
}

// peerTo returns a Peer that hands declarations to target with secret
// and cert.
func peerTo(target string, secret []byte, cert tls.Certificate) *Peer {
	p := NewPeer(nil, "https://self.invalid", secret, cert, func() bool { return false }, nil)
	p.target = target
	return p
}

func testDeclaration(lat float64) mechanism.Declaration {
	start := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Second)
	v := dc.Volume4D{
		TimeStart: &dc.Time{Value: start.Format(time.RFC3339), Format: "RFC3339"},
		TimeEnd:   &dc.Time{Value: start.Add(time.Hour).Format(time.RFC3339), Format: "RFC3339"},
	}
	v.Volume.OutlineCircle = &dc.Circle{Center: &dc.LatLng{Lat: dc.Float(lat), Lng: dc.Float(35)}, Radius: &dc.Measure{Value: dc.Float(2000), Units: "M"}}
	v.Volume.AltitudeLower = &dc.Altitude{Value: dc.Float(0), Reference: "W84", Units: "M"}
	v.Volume.AltitudeUpper = &dc.Altitude{Value: dc.Float(1000), Reference: "W84", Units: "M"}
	return mechanism.Declaration{Volumes: []dc.Volume4D{v}}
}

var (
	alpha = dc.Actor{Party: "alpha", Role: dc.RoleOperator, TokenID: "tok-a"}
	bravo = dc.Actor{Party: "bravo", Role: dc.RoleOperator, TokenID: "tok-b"}
)

// TestHandOver hands three declarations to a writer: two that conflict,
// one invalid. Each comes back as the writer decided it: created with its
// conflicts, or refused naming the field at fault; the writer recorded
// the actors as the sending replica authenticated them.
func TestHandOver(t *testing.T) {
	secret, cert := testKeys(t)
	var holding atomic.Bool
	holding.Store(true)
	m, srv := writerOn(t, secret, cert, &holding)
	p := peerTo(srv.URL, secret, cert)
	bad := testDeclaration(33)
	bad.Volumes[0].Volume.OutlineCircle.Radius.Value = dc.Float(-1)
	a, b := uuid.NewString(), uuid.NewString()
	outs, err := p.Forward(context.Background(), []mechanism.Forwarded{
		{Actor: alpha, ID: a, Declaration: testDeclaration(33)},
		{Actor: bravo, ID: uuid.NewString(), Declaration: bad},
		{Actor: bravo, ID: b, Declaration: testDeclaration(33)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 3 {
		t.Fatalf("%d outcomes for 3 declarations", len(outs))
	}
	if outs[0].Err != nil || !outs[0].Result.Created || outs[0].Result.Operation.ID != a {
		t.Errorf("first: %+v; want %s created", outs[0], a)
	}
	var e *dc.Error
	if !errors.As(outs[1].Err, &e) || e.Code != dc.EInvalid || e.Field != "volumes[0].volume.outline_circle.radius.value" {
		t.Errorf("the invalid one: %v; want invalid_argument naming the radius", outs[1].Err)
	}
	// Declared at once, the two may be decided in either order: one
	// of them found the other.
	if n := len(outs[0].Result.Conflicts) + len(outs[2].Result.Conflicts); outs[2].Err != nil || n != 1 {
		t.Errorf("third: %v; %d conflicts shown between the two, want 1", outs[2].Err, n)
	}
	evs, err := m.Events(context.Background(), dc.Actor{Role: dc.RoleAdmin}, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Type == "operation.declared" && e.Subject.ID == b && e.Actor.TokenID != "tok-b" {
			t.Errorf("the writer recorded token %q for bravo's declaration, want tok-b", e.Actor.TokenID)
		}
	}
}

// TestHandOverRefused: a writer that no longer holds the lease, or one
// that cannot be reached, applied nothing: ErrNotForwarded, and the
// peer writes here for a while.
func TestHandOverRefused(t *testing.T) {
	secret, cert := testKeys(t)
	var holding atomic.Bool // false: not the writer
	m, srv := writerOn(t, secret, cert, &holding)
	p := peerTo(srv.URL, secret, cert)
	_, err := p.Forward(context.Background(), []mechanism.Forwarded{{Actor: alpha, ID: uuid.NewString(), Declaration: testDeclaration(33)}})
	if !errors.Is(err, mechanism.ErrNotForwarded) {
		t.Errorf("a writer without the lease: %v, want ErrNotForwarded", err)
	}
	if m.Index().LiveOperations() != 0 {
		t.Errorf("a writer without the lease applied %d declarations", m.Index().LiveOperations())
	}
	if p.Active() {
		t.Error("the peer still hands declarations over right after a refusal")
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "https://" + ln.Addr().String()
	ln.Close()
	p = peerTo(closed, secret, cert)
	_, err = p.Forward(context.Background(), []mechanism.Forwarded{{Actor: alpha, ID: uuid.NewString(), Declaration: testDeclaration(33)}})
	if !errors.Is(err, mechanism.ErrNotForwarded) {
		t.Errorf("a writer not listening: %v, want ErrNotForwarded", err)
	}
}

// TestHandOverUnknown: a connection lost after the request was sent, an
// answer that does not verify, or a request the writer does not trust
// leave the outcome unknown: not ErrNotForwarded, so the declarations
// are not written a second time here.
func TestHandOverUnknown(t *testing.T) {
	secret, cert := testKeys(t)
	var applied atomic.Int32
	lost := serveTLS(t, cert, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		applied.Add(1) // as if the writer applied them and then died
		c, _, _ := w.(http.Hijacker).Hijack()
		c.Close()
	}))
	forged := serveTLS(t, cert, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(SignatureHeader, sign([]byte("another secret"), "answer", time.Now(), "", "", r.Header.Get(SignatureHeader), []byte(`{"refused":"not_writer"}`)))
		_, _ = w.Write([]byte(`{"refused":"not_writer"}`))
	}))
	var holding atomic.Bool
	holding.Store(true)
	// Its secret only is another: a replica that kept the certificate
	// and not the secret, say.
	m, other := writerOn(t, []byte("the writer's own secret, not ours"), cert, &holding)
	for name, url := range map[string]string{"connection lost": lost.URL, "forged answer": forged.URL, "another secret": other.URL} {
		p := peerTo(url, secret, cert)
		_, err := p.Forward(context.Background(), []mechanism.Forwarded{{Actor: alpha, ID: uuid.NewString(), Declaration: testDeclaration(33)}})
		if err == nil || errors.Is(err, mechanism.ErrNotForwarded) {
			t.Errorf("%s: %v; want an unknown outcome", name, err)
		}
	}
	if applied.Load() != 1 {
		t.Errorf("the request was sent %d times to the writer that died, want once (never again by itself)", applied.Load())
	}
	if m.Index().LiveOperations() != 0 {
		t.Errorf("a writer applied %d declarations signed with another secret", m.Index().LiveOperations())
	}
}

// TestSignature: a signature verifies over its own message only, and not
// outside the allowed clock skew.
func TestSignature(t *testing.T) {
	secret := []byte("s")
	now := time.Unix(1_800_000_000, 0)
	nonce := newNonce()
	h := sign(secret, "request", now, nonce, "http://w", "", []byte("body"))
	if _, n, err := verify(secret, "request", h, now.Add(30*time.Second), "http://w", "", []byte("body")); err != nil || n != nonce {
		t.Errorf("a fresh signature: %v, nonce %q want %q", err, n, nonce)
	}
	other := strings.Replace(h, nonce, newNonce(), 1)
	for name, check := range map[string]error{
		"another body":    second(verify(secret, "request", h, now, "http://w", "", []byte("bodY"))),
		"an answer":       second(verify(secret, "answer", h, now, "http://w", "", []byte("body"))),
		"another secret":  second(verify([]byte("t"), "request", h, now, "http://w", "", []byte("body"))),
		"too old":         second(verify(secret, "request", h, now.Add(2*time.Minute), "http://w", "", []byte("body"))),
		"answering":       second(verify(secret, "request", h, now, "http://w", "x", []byte("body"))),
		"another replica": second(verify(secret, "request", h, now, "http://v", "", []byte("body"))),
		"another nonce":   second(verify(secret, "request", other, now, "http://w", "", []byte("body"))),
	} {
		if check == nil {
			t.Errorf("%s: verified", name)
		}
	}
}

func second(_ int64, _ string, err error) error { return err }

// FuzzParseSignature: any header either parses to a time and a 32-byte
// MAC or is refused, without panicking.
func FuzzParseSignature(f *testing.F) {
	f.Add(sign([]byte("s"), "request", time.Unix(1_800_000_000, 0), newNonce(), "http://w", "", nil))
	f.Add(sign([]byte("s"), "answer", time.Unix(1_800_000_000, 0), "", "", "x", nil))
	f.Add("t=1,s=")
	f.Add("t=-1,s=00")
	f.Add(",")
	f.Fuzz(func(t *testing.T, h string) {
		ts, nonce, sig, err := parseSignature(h)
		if err == nil && (ts < 0 || len(sig) != 32 || (nonce != "" && len(nonce) != 32)) {
			t.Errorf("%q parsed to %d, %d bytes", h, ts, len(sig))
		}
		if err == nil && !bytes.Contains([]byte(h), []byte("s=")) {
			t.Errorf("%q parsed without s=", h)
		}
	})
}
