package mechanism_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/sqlite"
	"github.com/google/uuid"
	"golang.org/x/mod/sumdb/tlog"
)

// TestIntegrityAlarmLogEntries: the log's entries (GET /v1/log/entries)
// are served only if each one hashes to the leaf hash stored for it when
// it was appended. An event edited in the store behind the server's back
// (here: the declaration now says a head made it), or a damaged stored
// leaf hash, answers an integrity alarm, not the edited entry with a leaf
// hash made up from it.
func TestIntegrityAlarmLogEntries(t *testing.T) {
	ctx := context.Background()
	world := func(t *testing.T) (*mechanism.Mechanism, *sql.DB, int64) {
		path := t.TempDir() + "/d.db"
		st, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		m, clk := openOn(t, st, "alpha", "bravo")
		start := clk.Now().Add(2 * time.Hour)
		if _, err := m.Declare(ctx, dc.Actor{Party: "alpha", Role: dc.RoleOperator}, uuid.NewString(), circleDecl(33.5, 35.5, start, start.Add(time.Hour)), nil); err != nil {
			t.Fatal(err)
		}
		db, err := sql.Open(sqlite.DriverName, path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		n := lastSeq(t, m)
		if _, err := m.Record().LogEntries(ctx, dc.Actor{Role: dc.RoleAdmin}, 0, n); err != nil {
			t.Fatalf("entries of an intact log: %v", err)
		}
		return m, db, n
	}
	alarmed := func(t *testing.T, m *mechanism.Mechanism, err error) {
		t.Helper()
		var e *dc.Error
		if !errors.As(err, &e) || e.Code != dc.EInternal || !strings.Contains(e.Message, "integrity alarm") {
			t.Fatalf("log entries: %v, want an internal error saying integrity alarm", err)
		}
		if m.Health().IntegrityAlarms() != 1 || m.Health().Ready(ctx) == nil {
			t.Fatalf("%d alarms, ready %v: want 1 alarm and not ready", m.Health().IntegrityAlarms(), m.Health().Ready(ctx))
		}
	}
	t.Run("edited event", func(t *testing.T) {
		m, db, n := world(t)
		if _, err := db.Exec("UPDATE events SET actor_role = 'head' WHERE seq = ?", n); err != nil {
			t.Fatal(err)
		}
		_, err := m.Record().LogEntries(ctx, dc.Actor{Role: dc.RoleAdmin}, 0, n)
		alarmed(t, m, err)
	})
	t.Run("damaged leaf hash", func(t *testing.T) {
		m, db, n := world(t)
		var h []byte
		idx := tlog.StoredHashIndex(0, n-1)
		if err := db.QueryRow("SELECT hash FROM log_hashes WHERE idx = ?", idx).Scan(&h); err != nil {
			t.Fatal(err)
		}
		h[3] ^= 1
		if _, err := db.Exec("UPDATE log_hashes SET hash = ? WHERE idx = ?", h, idx); err != nil {
			t.Fatal(err)
		}
		_, err := m.Record().LogEntries(ctx, dc.Actor{Party: "bravo", Role: dc.RoleOperator}, n-1, n)
		alarmed(t, m, err)
	})
}
