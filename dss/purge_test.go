package dss

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/pgtest"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/postgres"
	"github.com/deconflict/deconflict/sqlite"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// Records over for longer than the retention are purged, implicit
// subscriptions with their last intent, and the tombstones a pass saw
// go at the next; a process on the same store that had not seen the
// deletions reloads, so it never keeps a deleted intent.
func TestPurge(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "dss.db")
		testPurge(t, func() dc.Store {
			db, err := sqlite.Open(t.Context(), file)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		})
	})
	t.Run("postgres", func(t *testing.T) {
		url := pgtest.Database(t)
		testPurge(t, func() dc.Store {
			db, err := postgres.Open(t.Context(), url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		})
	})
}

// testPurge runs TestPurge over two processes' handles (from open) on
// one store.
func testPurge(t *testing.T, open func() dc.Store) {
	ctx := t.Context()
	db := open()
	var skew atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	start := func(db dc.Store) *DSS {
		m := mechanism.New(db, mechanism.Options{})
		if err := m.Load(ctx); err != nil {
			t.Fatal(err)
		}
		d, err := New(ctx, m, NewVerifier([]*rsa.PublicKey{&key.PublicKey}, []string{"localhost"}, nil), Options{Now: clock, Retention: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	d1, d2 := start(db), start(open())
	tok, _ := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": "i", "sub": "uss1", "aud": "localhost",
		"exp": time.Now().Add(time.Hour).Unix(), "scope": ScopeStrategicCoordination}).SignedString(key)
	do := func(d *DSS, method, path string, body any) (int, map[string]any) {
		t.Helper()
		var b []byte
		if body != nil {
			b, _ = json.Marshal(body)
		}
		req := httptest.NewRequest(method, path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		d.ServeHTTP(w, req)
		var out map[string]any
		_ = json.Unmarshal(w.Body.Bytes(), &out)
		return w.Code, out
	}
	create := func(id string, lat float64) string {
		t.Helper()
		start := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		end := time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)
		vol := map[string]any{"volume": map[string]any{
			"outline_circle": map[string]any{"center": map[string]any{"lat": lat, "lng": 2}, "radius": map[string]any{"value": 100, "units": "M"}},
			"altitude_lower": map[string]any{"value": 0, "reference": "W84", "units": "M"},
			"altitude_upper": map[string]any{"value": 10, "reference": "W84", "units": "M"}},
			"time_start": map[string]any{"value": start, "format": "RFC3339"}, "time_end": map[string]any{"value": end, "format": "RFC3339"}}
		code, body := do(d1, "PUT", "/dss/v1/operational_intent_references/"+id, map[string]any{"extents": []any{vol}, "state": "Accepted",
			"uss_base_url": "https://x.example", "key": []string{}, "new_subscription": map[string]any{"uss_base_url": "https://x.example"}})
		if code != http.StatusCreated {
			t.Fatalf("create %s: %d %v", id, code, body)
		}
		ref, _ := body["operational_intent_reference"].(map[string]any)
		ovn, _ := ref["ovn"].(string)
		return ovn
	}
	a, b := uuid.NewString(), uuid.NewString()
	create(a, 1)
	ovnB := create(b, 3)
	if code, _ := do(d2, "GET", "/dss/v1/operational_intent_references/"+b, nil); code != http.StatusOK {
		t.Fatalf("the other process does not see b: %d", code)
	}
	if code, body := do(d1, "DELETE", "/dss/v1/operational_intent_references/"+b+"/"+ovnB, nil); code != http.StatusOK {
		t.Fatalf("delete b: %d %v", code, body)
	}

	// Not over yet: nothing goes, and the tombstones of b and its
	// implicit subscription are seen.
	if n, err := d1.Purge(ctx); err != nil || n != 0 {
		t.Fatalf("purge before the end: %d, %v", n, err)
	}
	// Over: a and its implicit subscription go, and the two tombstones
	// the first pass saw.
	skew.Store(int64(4 * time.Hour))
	if n, err := d1.Purge(ctx); err != nil || n != 4 {
		t.Fatalf("purge after the retention = %d, %v; want 2 records and 2 tombstones", n, err)
	}
	if code, _ := do(d1, "GET", "/dss/v1/operational_intent_references/"+a, nil); code != http.StatusNotFound {
		t.Fatalf("a purged intent answers %d", code)
	}
	if len(d1.st.subs) != 0 || len(d1.st.dependents) != 0 {
		t.Fatalf("subscriptions left: %v", d1.st.subs)
	}
	// The next pass purges the tombstones of a and its subscription.
	if n, err := d1.Purge(ctx); err != nil || n != 2 {
		t.Fatalf("purge of tombstones = %d, %v", n, err)
	}
	tombstones := 0
	if err := db.View(ctx, func(tx dc.Tx) error {
		return tx.(dc.DSSTx).DSSRecordsSince(ctx, 0, func(kind, id string, seq int64, doc []byte) error {
			if doc == nil {
				tombstones++
			}
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	if tombstones != 0 {
		t.Fatalf("%d tombstones left", tombstones)
	}
	// d2 saw b made but not deleted, and its tombstone is gone: it
	// reloads rather than keep b.
	if code, _ := do(d2, "GET", "/dss/v1/operational_intent_references/"+b, nil); code != http.StatusNotFound {
		t.Fatalf("the other process still answers %d for the deleted intent", code)
	}
	if code, _ := do(d2, "GET", "/dss/v1/operational_intent_references/"+a, nil); code != http.StatusNotFound {
		t.Fatalf("the other process still answers %d for the purged intent", code)
	}
	if len(d2.st.oirs) != 0 || len(d2.st.subs) != 0 {
		t.Fatalf("the other process keeps %d intents and %d subscriptions", len(d2.st.oirs), len(d2.st.subs))
	}
	// A new process loads what is left and can still write.
	d3 := start(open())
	if len(d3.st.oirs) != 0 {
		t.Fatalf("a new process loads %d intents", len(d3.st.oirs))
	}
	skew.Store(0)
	create(uuid.NewString(), 5)
}
