package dss

import (
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/deconflict/deconflict/sqlite"
	"github.com/google/uuid"
)

// Events without a /v1 change (USSs' intents) move the stored cursor
// only every cursorEvery events, so that they cost no write each, and a
// restart does not read them all again.
func TestFollowCursorLag(t *testing.T) {
	defer func(n int64) { cursorEvery = n }(cursorEvery)
	cursorEvery = 5
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "dss.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	h := newHarness(t)
	d := h.start(db)
	follow := func() {
		for {
			more, err := d.followOnce(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if !more {
				return
			}
		}
	}
	if code, body := h.putOIR(d, uuid.NewString(), 1, time.Hour, 2*time.Hour, nil); code != http.StatusCreated {
		t.Fatalf("create: %d %v", code, body)
	}
	follow()
	if d.st.v1Cursor != 0 {
		t.Fatalf("the cursor was written after a few USS events: %d", d.st.v1Cursor)
	}
	for i := range 6 {
		if code, body := h.putOIR(d, uuid.NewString(), float64(3+i), time.Hour, 2*time.Hour, nil); code != http.StatusCreated {
			t.Fatalf("create: %d %v", code, body)
		}
	}
	follow()
	if d.st.v1Cursor == 0 {
		t.Fatal("the cursor never moves without /v1 changes")
	}
	if again := h.start(db); again.st.v1Cursor != d.st.v1Cursor {
		t.Fatalf("a new process reads the cursor %d, want %d", again.st.v1Cursor, d.st.v1Cursor)
	}
}
