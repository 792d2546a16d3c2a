package dss

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/sqlite"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// FuzzHandlers sends arbitrary bodies to the write and query endpoints of
// a DSS over a real store: every answer is one utm.yaml lists for the
// endpoint, never a 500, and every refusal has an ErrorResponse message.
func FuzzHandlers(f *testing.F) {
	ctx := f.Context()
	db, err := sqlite.Open(ctx, filepath.Join(f.TempDir(), "dss.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	m := mechanism.New(db, mechanism.Options{})
	if err := m.Load(ctx); err != nil {
		f.Fatal(err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		f.Fatal(err)
	}
	d, err := New(ctx, m, NewVerifier([]*rsa.PublicKey{&key.PublicKey}, []string{"localhost"}, nil), Options{})
	if err != nil {
		f.Fatal(err)
	}
	tok, _ := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": "i", "sub": "fuzz-uss", "aud": "localhost",
		"exp": time.Now().Add(time.Hour).Unix(), "scope": ScopeStrategicCoordination + " " + ScopeConstraintManagement + " " +
			ScopeConstraintProcessing + " " + ScopeConformanceMonitoring + " " + ScopeAvailabilityArbitation}).SignedString(key)

	start := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	end := time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)
	vol := `{"volume":{"outline_circle":{"center":{"lat":1,"lng":2},"radius":{"value":100,"units":"M"}},"altitude_lower":{"value":0,"reference":"W84","units":"M"},"altitude_upper":{"value":10,"reference":"W84","units":"M"}},"time_start":{"value":"` + start + `","format":"RFC3339"},"time_end":{"value":"` + end + `","format":"RFC3339"}}`
	for i := range 4 {
		f.Add(uint8(i), []byte(`{"extents":[`+vol+`],"state":"Accepted","uss_base_url":"https://x.example","key":[]}`))
		f.Add(uint8(i), []byte(`{"extents":`+vol+`,"uss_base_url":"https://x.example","notify_for_operational_intents":true}`))
		f.Add(uint8(i), []byte(`{"area_of_interest":`+vol+`}`))
		f.Add(uint8(i), []byte(`{"extents":[`+vol+`],"state":"Activated","uss_base_url":"https://x.example","new_subscription":{"uss_base_url":"https://x.example"}}`))
		f.Add(uint8(i), []byte(`{"old_version":"","availability":"Down"}`))
	}
	allowed := map[string]map[int]bool{
		"PUT oir":          {201: true, 400: true, 403: true, 409: true, 412: true, 413: true},
		"PUT constraint":   {201: true, 400: true, 409: true, 413: true},
		"PUT subscription": {200: true, 400: true, 403: true, 409: true},
		"POST query":       {200: true, 400: true, 413: true},
		"PUT availability": {200: true, 400: true, 409: true},
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		var method, path, name string
		switch which % 5 {
		case 0:
			method, path, name = "PUT", "/dss/v1/operational_intent_references/"+uuid.NewString(), "PUT oir"
		case 1:
			method, path, name = "PUT", "/dss/v1/constraint_references/"+uuid.NewString(), "PUT constraint"
		case 2:
			method, path, name = "PUT", "/dss/v1/subscriptions/"+uuid.NewString(), "PUT subscription"
		case 3:
			method, path, name = "POST", "/dss/v1/operational_intent_references/query", "POST query"
		case 4:
			method, path, name = "PUT", "/dss/v1/uss_availability/fuzz-uss", "PUT availability"
		}
		req := httptest.NewRequest(method, path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		d.ServeHTTP(rec, req)
		if !allowed[name][rec.Code] {
			t.Fatalf("%s answered %d: %s", name, rec.Code, rec.Body.Bytes())
		}
		if rec.Code >= http.StatusBadRequest {
			var e struct {
				Message string `json:"message"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Message == "" {
				t.Fatalf("%s answered %d without a message: %s", name, rec.Code, rec.Body.Bytes())
			}
		}
	})
}
