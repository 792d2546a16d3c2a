package dss

import (
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/deconflict/deconflict/sqlite"
	"github.com/google/uuid"
)

// An intent whose time is over is not asked for in keys: there is nothing
// left to deconflict with it, and its USS may no longer serve it. One
// still running is.
func TestKeysSkipEndedIntents(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "dss.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	h := newHarness(t)
	d := h.start(db)
	if code, body := h.putOIR(d, uuid.NewString(), 1, time.Hour, 2*time.Hour, nil); code != http.StatusCreated {
		t.Fatalf("create: %d %v", code, body)
	}
	// At 1.5 h the first intent runs: a second over its last half hour
	// must name it.
	h.skew.Store(int64(90 * time.Minute))
	if code, body := h.putOIR(d, uuid.NewString(), 1, 100*time.Minute, 4*time.Hour, nil); code != http.StatusConflict {
		t.Fatalf("over a running intent without its OVN: %d %v", code, body)
	}
	// At 2.5 h it is over.
	h.skew.Store(int64(150 * time.Minute))
	if code, body := h.putOIR(d, uuid.NewString(), 1, 100*time.Minute, 4*time.Hour, nil); code != http.StatusCreated {
		t.Fatalf("over an ended intent: %d %v", code, body)
	}
}
