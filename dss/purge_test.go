package dss

import (
	"net/http"
	"path/filepath"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/pgtest"
	"github.com/deconflict/deconflict/postgres"
	"github.com/deconflict/deconflict/sqlite"
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
	h := newHarness(t)
	d1, d2 := h.start(db), h.start(open())
	do := h.do
	create := func(id string, lat float64) string {
		t.Helper()
		code, body := h.putOIR(d1, id, lat, time.Hour, 2*time.Hour, nil)
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
	h.skew.Store(int64(4 * time.Hour))
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
	d3 := h.start(open())
	if len(d3.st.oirs) != 0 {
		t.Fatalf("a new process loads %d intents", len(d3.st.oirs))
	}
	h.skew.Store(0)
	create(uuid.NewString(), 5)
}
