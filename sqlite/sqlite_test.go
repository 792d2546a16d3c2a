package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/storetest"
)

// MustOpen opens the store at path, or a new one in a temporary directory
// if path is empty, and closes it when the test ends.
func MustOpen(tb testing.TB, path string) *DB {
	tb.Helper()
	if path == "" {
		path = filepath.Join(tb.TempDir(), "deconflict.db")
	}
	db, err := Open(context.Background(), path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Error(err)
		}
	})
	return db
}

func TestStore(t *testing.T) {
	storetest.RunFactory(t, storetest.Factory{
		Open: func(t *testing.T) deconflict.Store { return MustOpen(t, "") },
		Reopen: func(t *testing.T, s deconflict.Store) deconflict.Store {
			db := s.(*DB)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			return MustOpen(t, db.Path())
		},
		Share: func(t *testing.T, s deconflict.Store) deconflict.Store { return MustOpen(t, s.(*DB).Path()) },
	})
}

func TestOpen(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	// A path with characters a URI would otherwise read differently.
	path := filepath.Join(dir, "odd ?name#1%20.db")
	db := MustOpen(t, path)
	if got := db.Path(); got != path {
		t.Errorf("Path() = %q, want %q", got, path)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("Open did not create the file: %v", err)
	}
	if err := db.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}

	if _, err := Open(ctx, filepath.Join(dir, "missing", "x.db")); err == nil {
		t.Error("Open in a missing directory: no error")
	}
	if _, err := Open(ctx, ""); err == nil {
		t.Error("Open(\"\"): no error")
	}
	notDB := filepath.Join(dir, "not.db")
	if err := os.WriteFile(notDB, []byte(strings.Repeat("not a database ", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	if db, err := Open(ctx, notDB); err == nil {
		db.Close()
		t.Error("Open of a file that is not a database: no error")
	}
}

// TestPragmas checks the settings durability and concurrency rest on.
func TestPragmas(t *testing.T) {
	db := MustOpen(t, "")
	ctx := t.Context()
	for _, tc := range []struct {
		pool   *sql.DB
		name   string
		pragma string
		want   string
	}{
		{db.write, "write", "journal_mode", "wal"},
		{db.write, "write", "synchronous", "2"},  // FULL
		{db.write, "write", "busy_timeout", "0"}, // begin waits instead
		{db.write, "write", "query_only", "0"},
		{db.write, "write", "wal_autocheckpoint", fmt.Sprint(writeAutoCheckpoint)},
		{db.write, "write", "journal_size_limit", "67108864"},
		{db.write, "write", "temp_store", "2"}, // MEMORY
		{db.read, "read", "journal_mode", "wal"},
		{db.read, "read", "busy_timeout", fmt.Sprint(BusyTimeout.Milliseconds())},
		{db.read, "read", "query_only", "1"},
	} {
		var got string
		if err := tc.pool.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", tc.pragma, err)
		}
		if got != tc.want {
			t.Errorf("%s connection: PRAGMA %s = %s, want %s", tc.name, tc.pragma, got, tc.want)
		}
	}
}

// TestBeginImmediate checks that a write transaction holds the file's
// write lock from its start, before it writes anything.
func TestBeginImmediate(t *testing.T) {
	db := MustOpen(t, "")
	ctx := t.Context()
	other, err := sql.Open(DriverName, dsn(db.Path(), url.Values{"_busy_timeout": {"0"}}))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.ExecContext(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}

	end := storetest.HoldUpdate(t, db)
	_, err = other.ExecContext(ctx, "BEGIN IMMEDIATE")
	if err == nil {
		other.ExecContext(ctx, "ROLLBACK")
		t.Error("another connection took the write lock while an Update that had only read was under way")
	} else if !strings.Contains(err.Error(), "locked") && !strings.Contains(err.Error(), "BUSY") {
		t.Errorf("BEGIN IMMEDIATE during an Update: %v, want SQLITE_BUSY", err)
	}
	if err := end(); err != nil {
		t.Fatal(err)
	}
}

// TestDurability writes, closes, reopens and reads, also without Close
// (as if the process had ended).
func TestDurability(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "d.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := db.Update(ctx, func(tx deconflict.Tx) error {
			if err := tx.CreateParty(ctx, &deconflict.Party{ID: fmt.Sprint("p", i)}); err != nil {
				return err
			}
			return tx.AppendEvent(ctx, &deconflict.Event{Type: deconflict.EventPartyAdded, Time: time.Now()})
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + "-wal"); err == nil {
		t.Errorf("the WAL is left after Close")
	}

	db = MustOpen(t, path)
	var n int64
	if err := db.View(ctx, func(tx deconflict.Tx) error {
		ps, err := tx.Parties(ctx)
		if err != nil {
			return err
		}
		if len(ps) != 10 {
			t.Errorf("after reopening: %d parties, want 10", len(ps))
		}
		n, err = tx.LastSeq(ctx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n != 10 {
		t.Errorf("after reopening: LastSeq %d, want 10", n)
	}
}

// TestMigrations checks the schema's version, concurrent opening of a new
// file, and the refusal of a newer schema.
func TestMigrations(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "m.db")
	dbs := storetest.OpenAtOnce(t, 6, func() (*DB, error) { return Open(ctx, path) })

	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	rows, err := dbs[0].read.QueryContext(ctx, "SELECT version, name FROM schema_migrations ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var v int
		var name string
		if err := rows.Scan(&v, &name); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprint(v, " ", name))
	}
	rows.Close()
	var want []string
	for _, m := range ms {
		want = append(want, fmt.Sprint(m.Version, " ", m.Name))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("schema_migrations = %v, want %v", got, want)
	}

	// A schema newer than the program is refused.
	if _, err := dbs[0].write.ExecContext(ctx, "INSERT INTO schema_migrations VALUES (9999, '9999_future', 0)"); err != nil {
		t.Fatal(err)
	}
	if db, err := Open(ctx, path); err == nil {
		db.Close()
		t.Error("Open of a file with a newer schema: no error")
	} else if !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open of a file with a newer schema: %v", err)
	}
}

// TestOpenWhileWriting opens, writes to and closes the file again and
// again while another DB writes to it all the time, as `deconflict party
// add` does beside a running server.
func TestOpenWhileWriting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "busy.db")
	server := MustOpen(t, path)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan int)
	go func() {
		n := 0
		for ctx.Err() == nil {
			if err := storetest.Increment(ctx, server, 0, n); err != nil {
				if ctx.Err() == nil {
					t.Error(err)
				}
				break
			}
			n++
		}
		done <- n
	}()
	const clis = 20
	for i := range clis {
		cli, err := Open(t.Context(), path)
		if err != nil {
			t.Fatalf("Open %d while another writes: %v", i, err)
		}
		if err := storetest.Increment(t.Context(), cli, 1, i); err != nil {
			t.Errorf("Update %d while another writes: %v", i, err)
		}
		if err := cli.Close(); err != nil {
			t.Errorf("Close %d while another writes: %v", i, err)
		}
	}
	cancel()
	n := <-done
	t.Logf("%d Updates beside the %d opens", n, clis)
	// A canceled increment may have committed or not; count what is there.
	var events int
	server.View(t.Context(), func(tx deconflict.Tx) error {
		es, err := tx.Events(t.Context(), 0, 100_000)
		events = len(es)
		return err
	})
	if events < n+clis || events > n+clis+1 {
		t.Errorf("%d events, want %d (or one more)", events, n+clis)
	}
	storetest.CheckIncrements(t, server, events)
}

// TestRevocationCountMigrates: a store made before the revocation count
// was kept starts its count from the tokens it has revoked, and keeps it
// from then on.
func TestRevocationCountMigrates(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "deconflict.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	storetest.CreateTokens(t, db, 5, 2) // t0, t2 and t4 revoked
	// Back to the schema before migration 7.
	if _, err := db.write.ExecContext(ctx, `DROP TRIGGER tokens_revoke; DROP TRIGGER tokens_insert_revoked;
		DROP TABLE token_revocations; DELETE FROM schema_migrations WHERE version >= 7`); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = MustOpen(t, path)
	storetest.CheckMigratedRevocations(t, db)
}
