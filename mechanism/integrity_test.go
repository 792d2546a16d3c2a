package mechanism_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/pgtest"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/postgres"
	"github.com/deconflict/deconflict/sqlite"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/sumdb/tlog"
)

// flipper flips one bit of the stored log hash at a storage index,
// behind the store's back, as a damaged disk or a hostile edit would.
type flipper func(t *testing.T, idx int64)

// TestIntegrityAlarm: one bit flipped in a stored Merkle hash. Every
// proof that rests on it — an inclusion proof whose sibling it is, one
// whose tree hash also uses it (so a check against that tree hash alone
// would pass), a consistency proof, an evidence bundle, the checkpoint —
// answers an integrity alarm (500, code internal) and never the wrong
// data; the alarm is counted and the mechanism is not ready after it.
func TestIntegrityAlarm(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		testIntegrityAlarm(t, func(t *testing.T) (dc.Store, flipper) {
			path := t.TempDir() + "/d.db"
			st, err := sqlite.Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st, func(t *testing.T, idx int64) {
				db, err := sql.Open(sqlite.DriverName, path)
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				var h []byte
				if err := db.QueryRow("SELECT hash FROM log_hashes WHERE idx = ?", idx).Scan(&h); err != nil {
					t.Fatal(err)
				}
				h[7] ^= 0x10
				if _, err := db.Exec("UPDATE log_hashes SET hash = ? WHERE idx = ?", h, idx); err != nil {
					t.Fatal(err)
				}
			}
		})
	})
	t.Run("postgres", func(t *testing.T) {
		testIntegrityAlarm(t, func(t *testing.T) (dc.Store, flipper) {
			url := pgtest.Database(t)
			st, err := postgres.Open(context.Background(), url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st, func(t *testing.T, idx int64) {
				ctx := context.Background()
				conn, err := pgx.Connect(ctx, url)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close(ctx)
				if _, err := conn.Exec(ctx, "UPDATE log_hashes SET hash = set_bit(hash, 60, 1 - get_bit(hash, 60)) WHERE idx = $1", idx); err != nil {
					t.Fatal(err)
				}
			}
		})
	})
}

func testIntegrityAlarm(t *testing.T, open func(t *testing.T) (dc.Store, flipper)) {
	ctx := context.Background()
	admin := dc.Actor{Role: dc.RoleAdmin}
	// world returns a mechanism whose log holds the key and party events
	// and one declaration, and the declaration's operation ID.
	world := func(t *testing.T) (*mechanism.Mechanism, flipper, string) {
		st, flip := open(t)
		m, clk := openOn(t, st, "alpha", "bravo")
		start := clk.Now().Add(2 * time.Hour)
		id := uuid.NewString()
		if _, err := m.Declare(ctx, dc.Actor{Party: "alpha", Role: dc.RoleOperator}, id, circleDecl(33.5, 35.5, start, start.Add(time.Hour)), nil); err != nil {
			t.Fatal(err)
		}
		if n := lastSeq(t, m); n < 3 {
			t.Fatalf("log of %d entries: want 3 or more", n)
		}
		return m, flip, id
	}
	alarmed := func(t *testing.T, m *mechanism.Mechanism, what string, err error, alarms int64) {
		t.Helper()
		var e *dc.Error
		if !errors.As(err, &e) || e.Code != dc.EInternal || !strings.Contains(e.Message, "integrity alarm") {
			t.Fatalf("%s: %v, want an internal error saying integrity alarm", what, err)
		}
		if got := m.Health().IntegrityAlarms(); got != alarms {
			t.Fatalf("%s: %d integrity alarms counted, want %d", what, got, alarms)
		}
		if err := m.Health().Ready(ctx); err == nil || !strings.Contains(err.Error(), "integrity alarm") {
			t.Fatalf("%s: ready (%v) after an integrity alarm", what, err)
		}
	}

	t.Run("intact", func(t *testing.T) {
		m, _, id := world(t)
		n := lastSeq(t, m)
		for i := range n {
			if _, err := m.Record().InclusionProof(ctx, i, n); err != nil {
				t.Fatalf("inclusion proof of %d in %d: %v", i, n, err)
			}
		}
		if _, err := m.Record().ConsistencyProof(ctx, 1, n); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Record().Evidence(ctx, admin, id); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Record().Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		if m.Health().IntegrityAlarms() != 0 || m.Health().Ready(ctx) != nil {
			t.Fatalf("%d alarms, ready: %v", m.Health().IntegrityAlarms(), m.Health().Ready(ctx))
		}
	})
	t.Run("sibling", func(t *testing.T) {
		m, flip, _ := world(t)
		flip(t, tlog.StoredHashIndex(0, 1)) // the only hash of the proof of entry 0 in the log of 2
		_, err := m.Record().InclusionProof(ctx, 0, 2)
		alarmed(t, m, "inclusion proof of 0 in 2", err, 1)
		_, err = m.Record().ConsistencyProof(ctx, 1, 2)
		alarmed(t, m, "consistency proof from 1 to 2", err, 2)
	})
	t.Run("proof and tree hash", func(t *testing.T) {
		// The hash of entries 0 and 1 is the proof of entry 2 in the log
		// of 3 and half of that log's tree hash: the wrong proof leads to
		// the wrong tree hash. Only checking each stored hash against
		// those below it finds that.
		m, flip, _ := world(t)
		flip(t, tlog.StoredHashIndex(1, 0))
		_, err := m.Record().InclusionProof(ctx, 2, 3)
		alarmed(t, m, "inclusion proof of 2 in 3", err, 1)
		_, err = m.Record().Checkpoint(ctx)
		alarmed(t, m, "checkpoint", err, 2)
	})
	t.Run("evidence", func(t *testing.T) {
		m, flip, id := world(t)
		flip(t, tlog.StoredHashIndex(0, lastSeq(t, m)-1)) // the declaration's own leaf
		_, err := m.Record().Evidence(ctx, admin, id)
		alarmed(t, m, "evidence bundle", err, 1)
	})
}

// failingStore is a store whose writes fail, as with a damaged page that
// every write touches or a disk that refuses them, while it still
// answers reads and pings.
type failingStore struct {
	dc.Store
	fail    error
	damaged bool
}

func (f *failingStore) Update(ctx context.Context, fn func(dc.Tx) error) error {
	if f.fail != nil {
		return f.fail
	}
	return f.Store.Update(ctx, fn)
}

func (f *failingStore) Damaged(err error) bool { return f.damaged && errors.Is(err, f.fail) }

// TestReadyNeedsWrites: a store that answers pings but whose writes fail
// is not ready, found by a probe write when nothing else wrote; it is
// ready again once a write commits. A write that fails because the store
// reports its data damaged raises the integrity alarm, which lasts.
func TestReadyNeedsWrites(t *testing.T) {
	ctx := context.Background()
	fs := &failingStore{Store: freshStore(t)}
	m, _ := openOn(t, fs, "alpha")
	if err := m.Health().Ready(ctx); err != nil {
		t.Fatalf("a new store is not ready: %v", err)
	}
	fs.fail = errors.New("disk I/O error")
	if err := m.Health().ProbeWrite(ctx); err == nil {
		t.Fatal("the probe write did not fail")
	}
	if err := m.Health().Ready(ctx); err == nil || !strings.Contains(err.Error(), "does not take writes") {
		t.Fatalf("ready (%v) while writes fail", err)
	}
	if strings.Contains(m.Health().Ready(ctx).Error(), "I/O") {
		t.Fatalf("/readyz would show the store's own error: %v", m.Health().Ready(ctx))
	}
	fs.fail = nil
	if err := m.Health().ProbeWrite(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Health().Ready(ctx); err != nil {
		t.Fatalf("not ready after a write committed again: %v", err)
	}
	// A refusal by the rules says nothing about the store.
	if _, err := m.Settings().Patch(ctx, dc.Actor{Role: dc.RoleAdmin}, dc.SettingsPatch{TimeS: ptr(-1.0)}); err == nil {
		t.Fatal("a bad patch was taken")
	}
	if err := m.Health().Ready(ctx); err != nil {
		t.Fatalf("not ready after a refused request: %v", err)
	}

	fs.fail, fs.damaged = errors.New("database disk image is malformed"), true
	_, err := m.Declare(ctx, dc.Actor{Party: "alpha", Role: dc.RoleOperator}, uuid.NewString(),
		circleDecl(33.5, 35.5, time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC), time.Date(2026, 11, 25, 11, 0, 0, 0, time.UTC)), nil)
	if err == nil {
		t.Fatal("a declaration was taken by a store whose writes fail")
	}
	if m.Health().IntegrityAlarms() != 1 {
		t.Fatalf("%d integrity alarms after a write the store reports damaged, want 1", m.Health().IntegrityAlarms())
	}
	fs.fail = nil
	if err := m.Health().ProbeWrite(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Health().Ready(ctx); err == nil || !strings.Contains(err.Error(), "integrity alarm") {
		t.Fatalf("ready (%v) after damage was reported", err)
	}
}

func ptr[T any](v T) *T { return &v }
