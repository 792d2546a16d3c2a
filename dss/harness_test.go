package dss

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/golang-jwt/jwt/v5"
)

// harness runs DSSs over real stores in the test's process, with a clock
// the test can move (skew) and a token of USS uss1 with every scope.
type harness struct {
	t    *testing.T
	key  *rsa.PrivateKey
	tok  string
	skew atomic.Int64
}

func newHarness(t *testing.T) *harness {
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": "i", "sub": "uss1", "aud": "localhost",
		"exp": time.Now().Add(time.Hour).Unix(), "scope": ScopeStrategicCoordination + " " + ScopeConstraintProcessing}).SignedString(key)
	return &harness{t: t, key: key, tok: tok}
}

func (h *harness) now() time.Time { return time.Now().Add(time.Duration(h.skew.Load())) }

// start starts a DSS (a process) on db.
func (h *harness) start(db dc.Store) *DSS {
	h.t.Helper()
	ctx := h.t.Context()
	m := mechanism.New(db, mechanism.Options{})
	if err := m.Load(ctx); err != nil {
		h.t.Fatal(err)
	}
	d, err := New(ctx, m, NewVerifier([]*rsa.PublicKey{&h.key.PublicKey}, []string{"localhost"}, nil), Options{Now: h.now, Retention: time.Hour})
	if err != nil {
		h.t.Fatal(err)
	}
	return d
}

// do sends a request to d and returns the status and the decoded body.
func (h *harness) do(d *DSS, method, path string, body any) (int, map[string]any) {
	h.t.Helper()
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
	}
	req := httptest.NewRequest(method, path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+h.tok)
	w := httptest.NewRecorder()
	d.ServeHTTP(w, req)
	var out map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &out)
	return w.Code, out
}

// putOIR creates an Accepted OIR of one 100 m circle at (lat, 2), from
// from to to after the real time, with an implicit subscription.
func (h *harness) putOIR(d *DSS, id string, lat float64, from, to time.Duration, key []string) (int, map[string]any) {
	h.t.Helper()
	vol := map[string]any{"volume": map[string]any{
		"outline_circle": map[string]any{"center": map[string]any{"lat": lat, "lng": 2}, "radius": map[string]any{"value": 100, "units": "M"}},
		"altitude_lower": map[string]any{"value": 0, "reference": "W84", "units": "M"},
		"altitude_upper": map[string]any{"value": 10, "reference": "W84", "units": "M"}},
		"time_start": map[string]any{"value": time.Now().Add(from).UTC().Format(time.RFC3339), "format": "RFC3339"},
		"time_end":   map[string]any{"value": time.Now().Add(to).UTC().Format(time.RFC3339), "format": "RFC3339"}}
	if key == nil {
		key = []string{}
	}
	return h.do(d, "PUT", "/dss/v1/operational_intent_references/"+id, map[string]any{"extents": []any{vol}, "state": "Accepted",
		"uss_base_url": "https://x.example", "key": key, "new_subscription": map[string]any{"uss_base_url": "https://x.example"}})
}
