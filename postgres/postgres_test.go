package postgres

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
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
	"github.com/jackc/pgx/v5/pgconn"
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
	rows, err := db.pool.Query(t.Context(), "SELECT version, name FROM schema_migrations ORDER BY version")
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
	if err := rows.Err(); err != nil {
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
	const openers = 4
	var wg sync.WaitGroup
	dbs := make([]*DB, openers)
	errs := make([]error, openers)
	for i := range openers {
		wg.Go(func() { dbs[i], errs[i] = Open(t.Context(), u) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("concurrent Open %d: %v", i, err)
		}
		defer dbs[i].Close()
	}
	checkMigrations(t, dbs[0])
	for i, db := range dbs {
		if err := storetest.Increment(t.Context(), db, i, 0); err != nil {
			t.Errorf("Update on DB %d: %v", i, err)
		}
	}
	storetest.CheckIncrements(t, dbs[openers-1], openers)
}

// TestRollbackKeepsSeqs checks that a rolled-back Update leaves no gap.
func TestRollbackKeepsSeqs(t *testing.T) {
	db := MustOpen(t, "")
	ctx := t.Context()
	if err := storetest.Increment(ctx, db, 0, 0); err != nil {
		t.Fatal(err)
	}
	errNo := errors.New("no")
	err := db.Update(ctx, func(tx deconflict.Tx) error {
		if err := tx.AppendEvent(ctx, &deconflict.Event{Type: deconflict.EventLineCheck, Time: time.Now()}); err != nil {
			return err
		}
		return errNo
	})
	if !errors.Is(err, errNo) {
		t.Fatalf("Update: %v, want %v", err, errNo)
	}
	if err := storetest.Increment(ctx, db, 0, 1); err != nil {
		t.Fatal(err)
	}
	storetest.CheckIncrements(t, db, 2)
}

// TestEventDataBytes checks that event data comes back byte for byte, as
// the record hashes it: not normalised as jsonb would.
func TestEventDataBytes(t *testing.T) {
	db := MustOpen(t, "")
	ctx := t.Context()
	datas := []string{`{"b":1,  "a":[1.0,2e3], "a":"dup"}`, "{\n\t\"x\" : \"\\u00e9\"\n}", `null`, `"é"`}
	if err := db.Update(ctx, func(tx deconflict.Tx) error {
		for _, d := range datas {
			if err := tx.AppendEvent(ctx, &deconflict.Event{Type: deconflict.EventLineCheck, Time: time.Now(), Data: []byte(d)}); err != nil {
				return err
			}
		}
		return tx.AppendEvent(ctx, &deconflict.Event{Type: deconflict.EventLineCheck, Time: time.Now()})
	}); err != nil {
		t.Fatal(err)
	}
	db.View(ctx, func(tx deconflict.Tx) error {
		es, err := tx.Events(ctx, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		for i, d := range datas {
			if got := string(es[i].Data); got != d {
				t.Errorf("event %d data = %q, want %q", i+1, got, d)
			}
		}
		if es[len(datas)].Data != nil {
			t.Errorf("event without data has data %q", es[len(datas)].Data)
		}
		return nil
	})
}

// TestWriteLock checks that an Update holds the write lock from its start,
// before it writes anything, against writers on other connections.
func TestWriteLock(t *testing.T) {
	db := MustOpen(t, "")
	ctx := t.Context()
	end := storetest.HoldUpdate(t, db)
	var got bool
	err := db.pool.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", writeLockKey).Scan(&got)
	if err := end(); err != nil {
		t.Fatal(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if got {
		t.Error("another connection took the write lock while an Update that had only read was under way")
	}
}

// TestFailedStatementFailsCommit checks that an Update whose fn swallowed
// a failed statement reports the rollback PostgreSQL makes of it.
func TestFailedStatementFailsCommit(t *testing.T) {
	db := MustOpen(t, "")
	ctx := t.Context()
	err := db.Update(ctx, func(dtx deconflict.Tx) error {
		if err := dtx.CreateParty(ctx, &deconflict.Party{ID: "alpha"}); err != nil {
			return err
		}
		_, err := dtx.(*tx).conn.Exec(ctx, "SELECT 1/0")
		if err == nil {
			t.Error("SELECT 1/0: no error")
		}
		return nil // swallowed
	})
	if err == nil {
		t.Error("Update after a failed statement: no error")
	}
	db.View(ctx, func(tx deconflict.Tx) error {
		if _, err := tx.Party(ctx, "alpha"); deconflict.ErrorCode(err) != deconflict.ENotFound {
			t.Errorf("party of a failed Update: %v", err)
		}
		return nil
	})
	if err := storetest.Increment(ctx, db, 0, 0); err != nil {
		t.Fatalf("Update after a failed one: %v", err)
	}
}

// TestCanceledWhileWaitingForLock checks that an Update whose context
// ends while it waits for the write lock, which another replica holds,
// gives up then, and that the store takes the next Update.
func TestCanceledWhileWaitingForLock(t *testing.T) {
	u := newDatabase(t)
	db, other := MustOpen(t, u), MustOpen(t, u)
	end := storetest.HoldUpdate(t, other)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := db.Update(ctx, func(tx deconflict.Tx) error {
		_, err := tx.LastSeq(ctx)
		return err
	})
	if err == nil {
		t.Error("Update whose context ended while waiting for the lock: no error")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Update waited %v for the lock after its context ended", d)
	}
	if err := end(); err != nil {
		t.Fatal(err)
	}
	if err := storetest.Increment(t.Context(), db, 0, 0); err != nil {
		t.Fatalf("Update after a canceled wait: %v", err)
	}
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

// TestListen has one replica hear the Updates of another.
func TestListen(t *testing.T) {
	u := newDatabase(t)
	a, b := MustOpen(t, u), MustOpen(t, u)
	ctx, cancel := context.WithCancel(t.Context())
	seqs := make(chan int64, 100)
	done := make(chan error, 1)
	go func() { done <- a.Listen(ctx, func(seq int64) { seqs <- seq }) }()
	want(t, seqs, 0, 5*time.Second) // listening

	// An Update without events, and one rolled back, notify nothing.
	if err := b.Update(ctx, func(tx deconflict.Tx) error {
		return tx.CreateParty(ctx, &deconflict.Party{ID: "alpha"})
	}); err != nil {
		t.Fatal(err)
	}
	b.Update(ctx, func(tx deconflict.Tx) error {
		tx.AppendEvent(ctx, &deconflict.Event{Type: deconflict.EventLineCheck, Time: time.Now()})
		return errors.New("rolled back")
	})
	for i := range 3 {
		start := time.Now()
		if err := storetest.Increment(ctx, b, 0, i); err != nil {
			t.Fatal(err)
		}
		want(t, seqs, int64(i+1), time.Second)
		t.Logf("notified in %v", time.Since(start))
	}
	// Two events in one Update: one notification, of the last.
	if err := b.Update(ctx, func(tx deconflict.Tx) error {
		for range 2 {
			if err := tx.AppendEvent(ctx, &deconflict.Event{Type: deconflict.EventLineCheck, Time: time.Now()}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want(t, seqs, 5, time.Second)
	select {
	case seq := <-seqs:
		t.Errorf("unexpected notification %d", seq)
	case <-time.After(200 * time.Millisecond):
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Listen: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Listen did not return after its context ended")
	}
}

// want waits for the next value on c and checks it.
func want(t *testing.T, c <-chan int64, v int64, within time.Duration) {
	t.Helper()
	select {
	case got := <-c:
		if got != v {
			t.Fatalf("notified %d, want %d", got, v)
		}
	case <-time.After(within):
		t.Fatalf("no notification %d within %v", v, within)
	}
}

// TestListenReconnect cuts Listen's connection: it connects again, calls
// fn(0), and hears Updates again.
func TestListenReconnect(t *testing.T) {
	u := newDatabase(t)
	p := newProxy(t, u)
	a, b := MustOpen(t, p.url), MustOpen(t, u)
	var logged syncBuffer
	a.SetLogger(slog.New(slog.NewTextHandler(&logged, nil)))
	ctx := t.Context()
	seqs := make(chan int64, 100)
	go a.Listen(ctx, func(seq int64) { seqs <- seq })
	want(t, seqs, 0, 5*time.Second)
	if err := storetest.Increment(ctx, b, 0, 0); err != nil {
		t.Fatal(err)
	}
	want(t, seqs, 1, time.Second)

	p.cut()
	start := time.Now()
	want(t, seqs, 0, 3*time.Second)
	t.Logf("listening again after %v", time.Since(start))
	if err := storetest.Increment(ctx, b, 0, 1); err != nil {
		t.Fatal(err)
	}
	want(t, seqs, 2, time.Second)

	// The server gone for a while: Listen keeps trying, then hears again.
	p.stop()
	time.Sleep(2 * time.Second)
	p.restart()
	want(t, seqs, 0, 7*time.Second)
	if err := storetest.Increment(ctx, b, 0, 2); err != nil {
		t.Fatal(err)
	}
	want(t, seqs, 3, time.Second)
	// The operators were told: lost, and listening again.
	if log := logged.String(); !strings.Contains(log, "failed; trying again") || !strings.Contains(log, "listening for other replicas' commits again") {
		t.Errorf("Listen logged:\n%s", log)
	}
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

// TestLease checks that a lease has one holder at a time.
func TestLease(t *testing.T) {
	u := newDatabase(t)
	a, b := MustOpen(t, u), MustOpen(t, u)
	ctx := t.Context()
	la, ok, err := a.TryLease(ctx, "webhooks")
	if err != nil || !ok {
		t.Fatalf("first TryLease: %v, %v", ok, err)
	}
	for _, db := range []*DB{b, a} {
		if l, ok, err := db.TryLease(ctx, "webhooks"); err != nil || ok {
			t.Errorf("TryLease of a held lease: %v, %v", ok, err)
			if ok {
				l.Release()
			}
		}
	}
	// Another name is another lease.
	lo, ok, err := b.TryLease(ctx, "other")
	if err != nil || !ok {
		t.Fatalf("TryLease of another name: %v, %v", ok, err)
	}
	lo.Release()

	select {
	case <-la.Lost():
		t.Fatal("lease lost while held")
	case <-time.After(1500 * time.Millisecond): // a ping or so
	}
	la.Release()
	la.Release() // again: nothing
	select {
	case <-la.Lost():
	default:
		t.Error("Lost not closed after Release")
	}
	lb, ok, err := b.TryLease(ctx, "webhooks")
	if err != nil || !ok {
		t.Fatalf("TryLease after Release: %v, %v", ok, err)
	}
	lb.Release()
	// The pool lost no connection to leases.
	if n := a.pool.Stat().AcquiredConns(); n != 0 {
		t.Errorf("%d connections acquired after Release", n)
	}
}

// TestLeaseLost cuts the connection of a lease: the holder learns it, and
// another replica takes the lease.
func TestLeaseLost(t *testing.T) {
	u := newDatabase(t)
	p := newProxy(t, u)
	a, b := MustOpen(t, p.url), MustOpen(t, u)
	ctx := t.Context()
	la, ok, err := a.TryLease(ctx, "webhooks")
	if err != nil || !ok {
		t.Fatalf("TryLease: %v, %v", ok, err)
	}
	p.cut()
	start := time.Now()
	select {
	case <-la.Lost():
		t.Logf("lease lost noticed after %v", time.Since(start))
	case <-time.After(4 * time.Second):
		t.Fatal("lease not lost 4s after its connection was cut")
	}
	la.Release()
	deadline := time.Now().Add(5 * time.Second)
	for {
		lb, ok, err := b.TryLease(ctx, "webhooks")
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			lb.Release()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("lease of a cut connection still held after 5s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The first replica can take it again.
	la, ok, err = a.TryLease(ctx, "webhooks")
	if err != nil || !ok {
		t.Fatalf("TryLease after reconnecting: %v, %v", ok, err)
	}
	la.Release()
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

// TestPutLogHashesRange checks that indexes outside tlog's range are
// refused, not stored.
func TestPutLogHashesRange(t *testing.T) {
	db := MustOpen(t, "")
	ctx := t.Context()
	for _, c := range []struct {
		start int64
		n     int
	}{{-1, 1}, {-5, 3}, {1<<63 - 1, 2}, {-1 << 63, 0}} {
		err := db.Update(ctx, func(tx deconflict.Tx) error {
			return tx.PutLogHashes(ctx, c.start, make([][32]byte, c.n))
		})
		if code := deconflict.ErrorCode(err); code != deconflict.EInvalid {
			t.Errorf("PutLogHashes(%d, %d hashes): error %v, want %s", c.start, c.n, err, deconflict.EInvalid)
		}
	}
	var n int
	if err := db.pool.QueryRow(ctx, "SELECT count(*) FROM log_hashes").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d hashes stored, want 0", n)
	}
}

// TestUpdateRetries checks that Update runs fn again after a
// serialization failure or a deadlock, a bounded number of times, and not
// after other errors.
func TestUpdateRetries(t *testing.T) {
	db := MustOpen(t, "")
	ctx := t.Context()
	calls := 0
	err := db.Update(ctx, func(tx deconflict.Tx) error {
		calls++
		if err := tx.AppendEvent(ctx, &deconflict.Event{Type: deconflict.EventLineCheck, Time: time.Now()}); err != nil {
			return err
		}
		if calls < 3 {
			return fmt.Errorf("wrapped: %w", &pgconn.PgError{Code: []string{"40001", "40P01"}[calls-1]})
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Errorf("Update failing twice then not: %v after %d calls, want nil after 3", err, calls)
	}
	checkSeqs(t, db, 1)

	calls = 0
	err = db.Update(ctx, func(deconflict.Tx) error { calls++; return &pgconn.PgError{Code: "40001"} })
	if !retryable(err) || calls != maxRetries+1 {
		t.Errorf("Update failing always: %v after %d calls, want a serialization failure after %d", err, calls, maxRetries+1)
	}
	calls = 0
	err = db.Update(ctx, func(deconflict.Tx) error { calls++; return &pgconn.PgError{Code: "23505"} })
	if err == nil || calls != 1 {
		t.Errorf("Update failing with a unique violation: %v after %d calls, want it after 1", err, calls)
	}
}

// checkSeqs checks that the events run 1…n.
func checkSeqs(t *testing.T, db *DB, n int) {
	t.Helper()
	ctx := t.Context()
	db.View(ctx, func(tx deconflict.Tx) error {
		es, err := tx.Events(ctx, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) != n {
			t.Errorf("%d events, want %d", len(es), n)
		}
		for i, e := range es {
			if e.Seq != int64(i+1) {
				t.Errorf("event %d has seq %d", i+1, e.Seq)
			}
		}
		return nil
	})
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
