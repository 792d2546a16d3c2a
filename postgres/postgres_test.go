package postgres

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/pgtest"
	"github.com/deconflict/deconflict/storetest"
	"github.com/jackc/pgx/v5"
)

// serverURL returns the URL of the test server (pgtest.Env), or skips the
// test (fails it in CI) if there is none.
func serverURL(tb testing.TB) string { return pgtest.Server(tb) }

// randomName returns a new name for a database or schema.
func randomName(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// withDatabase returns u naming the database name instead.
func withDatabase(tb testing.TB, u, name string) string {
	tb.Helper()
	p, err := url.Parse(u)
	if err != nil {
		tb.Fatalf("parse %s: %v", pgtest.Env, err)
	}
	p.Path = "/" + name
	return p.String()
}

// withParam returns u with a query parameter set.
func withParam(tb testing.TB, u, key, value string) string {
	tb.Helper()
	p, err := url.Parse(u)
	if err != nil {
		tb.Fatal(err)
	}
	q := p.Query()
	q.Set(key, value)
	p.RawQuery = q.Encode()
	return p.String()
}

// admin runs a statement on the test server's own database.
func admin(tb testing.TB, sql string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, serverURL(tb))
	if err != nil {
		tb.Fatalf("connect to the test server: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}

// newDatabase creates an empty database, dropped when the test ends, and
// returns its URL.
func newDatabase(tb testing.TB) string {
	tb.Helper()
	name := randomName("deconflict_test_")
	admin(tb, "CREATE DATABASE "+name)
	tb.Cleanup(func() { admin(tb, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	return withDatabase(tb, serverURL(tb), name)
}

// newSchema creates an empty schema in the database at u and returns a
// URL whose connections use it: a new store, quicker to make than a
// database.
func newSchema(tb testing.TB, u string) string {
	tb.Helper()
	name := randomName("s_")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		tb.Fatal(err)
	}
	return withParam(tb, u, "search_path", name)
}

// MustOpen opens the store at u, or in a new database if u is empty, and
// closes it when the test ends.
func MustOpen(tb testing.TB, u string) *DB {
	tb.Helper()
	if u == "" {
		u = newDatabase(tb)
	}
	db, err := Open(context.Background(), u)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// urls remembers the URL each store of TestStore was opened with.
var urls sync.Map // *DB → string

func TestStore(t *testing.T) {
	base := newDatabase(t)
	open := func(t *testing.T, u string) deconflict.Store {
		db := MustOpen(t, u)
		urls.Store(db, u)
		return db
	}
	storetest.RunFactory(t, storetest.Factory{
		Open: func(t *testing.T) deconflict.Store { return open(t, newSchema(t, base)) },
		Reopen: func(t *testing.T, s deconflict.Store) deconflict.Store {
			u, _ := urls.Load(s)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			return open(t, u.(string))
		},
		Share: func(t *testing.T, s deconflict.Store) deconflict.Store {
			u, _ := urls.Load(s)
			return open(t, u.(string))
		},
	})
}

// TestMigrations checks the recorded versions and the refusal of a newer
// schema.
func TestMigrations(t *testing.T) {
	u := newDatabase(t)
	db := MustOpen(t, u)
	ctx := t.Context()
	if err := db.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	checkMigrations(t, db)
	// Opening again changes nothing.
	db2 := MustOpen(t, u)
	checkMigrations(t, db2)

	if _, err := db.pool.Exec(ctx, "INSERT INTO schema_migrations VALUES (9999, '9999_future', 0)"); err != nil {
		t.Fatal(err)
	}
	if db, err := Open(ctx, u); err == nil {
		db.Close()
		t.Error("Open of a database with a newer schema: no error")
	} else if !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open of a database with a newer schema: %v", err)
	}
}

// checkMigrations checks that schema_migrations lists every migration,
// once.
func checkMigrations(t *testing.T, db *DB) {
	t.Helper()
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := db.pool.Query(t.Context(), "SELECT version || ' ' || name FROM schema_migrations ORDER BY version")
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, m := range ms {
		want = append(want, fmt.Sprint(m.Version, " ", m.Name))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("schema_migrations = %v, want %v", got, want)
	}
}

// TestConcurrentOpen has four replicas start on a new database at once.
func TestConcurrentOpen(t *testing.T) {
	u := newDatabase(t)
	dbs := storetest.OpenAtOnce(t, 4, func() (*DB, error) { return Open(t.Context(), u) })
	checkMigrations(t, dbs[0])
	for i, db := range dbs {
		if err := storetest.Increment(t.Context(), db, i, 0); err != nil {
			t.Errorf("Update on DB %d: %v", i, err)
		}
	}
	storetest.CheckIncrements(t, dbs[len(dbs)-1], len(dbs))
}

// TestDurability writes, then reads on a new DB, with and without closing
// the first (as if its process had ended).
func TestDurability(t *testing.T) {
	u := newDatabase(t)
	ctx := t.Context()
	db, err := Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := storetest.Increment(ctx, db, 0, i); err != nil {
			t.Fatal(err)
		}
	}
	storetest.CheckIncrements(t, MustOpen(t, u), 10) // db still open
	db.Close()
	storetest.CheckIncrements(t, MustOpen(t, u), 10)
}

// syncBuffer is a bytes.Buffer safe for a logger's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestPingUnreachable checks that Ping fails, promptly, when the server
// cannot be reached, also for a DB that was open.
func TestPingUnreachable(t *testing.T) {
	u := newDatabase(t)
	// A port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	pu, _ := url.Parse(u)
	pu.Host = closed
	start := time.Now()
	if db, err := Open(t.Context(), pu.String()); err == nil {
		db.Close()
		t.Error("Open of a closed port: no error")
	}
	db, err := connect(pu.String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Ping(context.Background()); err == nil {
		t.Error("Ping of a closed port: no error")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Open and Ping of a closed port took %v", d)
	}

	// A server that stops answering, without closing connections.
	p := newProxy(t, u)
	db2 := MustOpen(t, p.url)
	if err := db2.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	p.freeze()
	start = time.Now()
	if err := db2.Ping(context.Background()); err == nil {
		t.Error("Ping of a server that does not answer: no error")
	}
	if d := time.Since(start); d > PingTimeout+time.Second {
		t.Errorf("Ping of a server that does not answer took %v", d)
	}
	t.Logf("Ping failed after %v", time.Since(start))
	// Closing connections to a server that does not answer would wait
	// for it (up to 15 s in pgxpool): let it go first.
	p.stop()
}

// TestRevocationCountMigrates: a store made before the revocation count
// was kept starts its count from the tokens it has revoked, and keeps it
// from then on.
func TestRevocationCountMigrates(t *testing.T) {
	u := newSchema(t, newDatabase(t))
	db := MustOpen(t, u)
	storetest.CreateTokens(t, db, 5, 2) // t0, t2 and t4 revoked
	undoRevocationCount(t, db)
	db.Close()
	db = MustOpen(t, u)
	storetest.CheckMigratedRevocations(t, db)
}

// TestRevocationCountedInItsOwnSchema: a revocation counts in the store of
// the token, whatever the search_path of the session that made it (an
// operator's psql, say).
func TestRevocationCountedInItsOwnSchema(t *testing.T) {
	ctx := t.Context()
	base := newDatabase(t)
	ua, ub := newSchema(t, base), newSchema(t, base)
	a, b := MustOpen(t, ua), MustOpen(t, ub)
	for i, u := range []string{ub, base} {
		id := fmt.Sprint("t", i)
		err := a.Update(ctx, func(tx deconflict.Tx) error {
			return tx.CreateToken(ctx, &deconflict.Token{ID: id, Hash: []byte("hash" + id), Role: deconflict.RoleOperator,
				Party: "alpha", CreatedAt: time.Now()})
		})
		if err != nil {
			t.Fatal(err)
		}
		c, err := pgx.Connect(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		var schema string
		if err := a.pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
			t.Fatal(err)
		}
		_, err = c.Exec(ctx, "UPDATE "+pgx.Identifier{schema, "tokens"}.Sanitize()+" SET revoked_at = 1 WHERE id = $1", id)
		c.Close(ctx)
		if err != nil {
			t.Fatalf("revoke from another search_path: %v", err)
		}
		if n, err := a.RevokedTokens(ctx); err != nil || n != int64(i+1) {
			t.Fatalf("RevokedTokens of the token's store = %d, %v; want %d", n, err, i+1)
		}
	}
	if n, err := b.RevokedTokens(ctx); err != nil || n != 0 {
		t.Fatalf("RevokedTokens of the other store = %d, %v; want 0", n, err)
	}
}

// undoRevocationCount takes the store back to its schema before migration
// 0004.
func undoRevocationCount(t *testing.T, db *DB) {
	t.Helper()
	if _, err := db.pool.Exec(t.Context(), `DROP TRIGGER tokens_revoke ON tokens; DROP TRIGGER tokens_insert_revoked ON tokens;
		DROP FUNCTION count_token_revocation; DROP TABLE token_revocations; DELETE FROM schema_migrations WHERE version >= 4`); err != nil {
		t.Fatal(err)
	}
}

// TestRevocationDuringMigration: a revocation by an older replica that
// commits while the migration to the revocation count runs is counted
// once (the count is taken after the triggers are in place, which waits
// for it).
func TestRevocationDuringMigration(t *testing.T) {
	ctx := t.Context()
	u := newSchema(t, newDatabase(t))
	db := MustOpen(t, u)
	storetest.CreateTokens(t, db, 2, 0)
	undoRevocationCount(t, db)
	db.Close()

	// An older replica revokes, under the write lock, and has not committed
	// when the migration starts.
	old, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close(ctx)
	otx, err := old.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := otx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", writeLockKey); err != nil {
		t.Fatal(err)
	}
	if _, err := otx.Exec(ctx, "UPDATE tokens SET revoked_at = coalesce(revoked_at, 1) WHERE id = 't1'"); err != nil {
		t.Fatal(err)
	}
	opened := make(chan *DB, 1)
	go func() {
		db, err := Open(context.Background(), u)
		if err != nil {
			t.Error(err)
		}
		opened <- db
	}()
	// Let the migration get as far as the revocation lets it (should it
	// not, in time, the test only checks less).
	time.Sleep(500 * time.Millisecond)
	if err := otx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	db = <-opened
	if db == nil {
		t.FailNow()
	}
	defer db.Close()
	if n, err := db.RevokedTokens(ctx); err != nil || n != 1 {
		t.Fatalf("RevokedTokens after a revocation during the migration = %d, %v; want 1", n, err)
	}
}
