package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// Scopes of F3548 tokens, as the tests ask for them.
const (
	scSCD  = "utm.strategic_coordination"
	scCM   = "utm.constraint_management"
	scCP   = "utm.constraint_processing"
	scCMSA = "utm.conformance_monitoring_sa"
	scAA   = "utm.availability_arbitration"
)

// dssServer is a real server with the DSS interface on, trusting a key
// the test made, and an authority that signs tokens with it.
type dssServer struct {
	*testServer
	key *rsa.PrivateKey
}

// startDSS starts a server with --dss-keys over a fresh store.
func startDSS(t testing.TB) *dssServer {
	t.Helper()
	return startDSSOn(t, testStore(t), nil)
}

// startDSSOn starts a DSS server on the store at url, with key (a new
// one if nil).
func startDSSOn(t testing.TB, url string, key *rsa.PrivateKey) *dssServer {
	t.Helper()
	if key == nil {
		var err error
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			t.Fatal(err)
		}
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "dss-key.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &testServer{t: t, store: url, flags: []string{"--dss-keys", file}}
	s.start()
	return &dssServer{testServer: s, key: key}
}

// tok signs a token for USS sub with the scopes, valid for an hour, for
// the audience localhost.
func (s *dssServer) tok(sub string, scopes ...string) string {
	s.t.Helper()
	return s.sign(jwt.MapClaims{"iss": "test-authority", "sub": sub, "aud": "localhost",
		"exp": time.Now().Add(time.Hour).Unix(), "scope": strings.Join(scopes, " ")})
}

func (s *dssServer) sign(claims jwt.MapClaims) string {
	s.t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(s.key)
	if err != nil {
		s.t.Fatal(err)
	}
	return tok
}

// ext returns an extents list of one circle volume.
func ext(lat, lng, radius, lower, upper float64, start, end time.Time) []any {
	return []any{circle(lat, lng, radius, lower, upper, start, end)}
}

// oirBody returns the body of an OIR create or update.
func oirBody(state string, extents []any, key []string, more ...any) map[string]any {
	b := map[string]any{"extents": extents, "state": state, "uss_base_url": "https://uss.example/api", "key": key}
	if key == nil {
		b["key"] = []string{}
	}
	for i := 0; i+1 < len(more); i += 2 {
		b[more[i].(string)] = more[i+1]
	}
	return b
}

const oirPath = "/dss/v1/operational_intent_references/"

// createOIR creates an Accepted OIR and returns its reference.
func (s *dssServer) createOIR(t *testing.T, token, id string, extents []any, key []string, more ...any) map[string]any {
	t.Helper()
	r := s.do("PUT", oirPath+id, token, oirBody("Accepted", extents, key, more...)).want(t, 201)
	return r.obj("operational_intent_reference")
}

func str(v any) string { s, _ := v.(string); return s }

// dssMessage fails the test unless the answer is an ErrorResponse with a
// message.
func dssMessage(t *testing.T, r response) string {
	t.Helper()
	msg, _ := r.body["message"].(string)
	if msg == "" {
		t.Fatalf("answer %d without an ErrorResponse message: %s", r.status, r.raw)
	}
	return msg
}

// wantTokensRefused checks that an OIR query with each of the tokens bad
// (by what is wrong with it) is refused 401 with an ErrorResponse.
func (s *dssServer) wantTokensRefused(t *testing.T, bad map[string]string) {
	t.Helper()
	area := map[string]any{"area_of_interest": circle(1, 1, 100, 0, 10, at(1), at(2))}
	for name, tok := range bad {
		r := s.do("POST", oirPath+"query", tok, area)
		if r.status != 401 {
			t.Errorf("%s: status %d, want 401", name, r.status)
			continue
		}
		dssMessage(t, r)
	}
}

// uuidV7 returns a new UUIDv7 (for requested_ovn_suffix).
func uuidV7(t testing.TB) string {
	u, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	return u.String()
}

// startDSSOnKeyOnly returns a signer with a key of its own that no
// server trusts.
func startDSSOnKeyOnly(t testing.TB) *dssServer {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return &dssServer{testServer: &testServer{t: t}, key: key}
}

// hs256 signs claims with HMAC, which F3548 does not allow.
func hs256(t testing.TB, c jwt.MapClaims) string {
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte("shared secret of no one"))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// noneAlg returns an unsigned token (alg none).
func noneAlg(t testing.TB, c jwt.MapClaims) string {
	tok, err := jwt.NewWithClaims(jwt.SigningMethodNone, c).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
