package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/timing"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Advisory lock keys. The one-bigint keys of the write and migration locks
// and the two-integer keys of leases are distinct lock spaces in
// PostgreSQL, so a lease never collides with them.
const (
	writeLockKey   int64 = 0x6465636f6e666c01 // "deconfl" 01
	migrateLockKey int64 = 0x6465636f6e666c02
	leaseLockSpace int32 = 0x64636c73 // "dcls", with hashtext(name)
)

// EventsChannel is the channel on which Update announces, with pg_notify,
// the last event seq of every transaction that appended events.
const EventsChannel = "deconflict_events"

// PingTimeout bounds Ping when its context has no deadline.
const PingTimeout = 2 * time.Second

// maxRetries bounds how many times Update runs fn again after a
// serialization failure or deadlock.
const maxRetries = 5

// DB is a deconflict.Store in a PostgreSQL database. It is safe for
// concurrent use, and several processes (replicas) may use the same
// database at once.
type DB struct {
	pool *pgxpool.Pool
	// writer is held by the Update of this DB under way: writers of one
	// process queue here, holding no connection, and one at a time
	// waits for the database's write lock.
	writer chan struct{}
	log    atomic.Pointer[slog.Logger] // for what Listen meets; none by default
	// commitTime is how long write transactions' commits took, lockWait
	// their first round trip (the wait for the write lock in it) and
	// lockHeld the time from the lock granted to the commit answered:
	// see Timings.
	commitTime, lockWait, lockHeld timing.Histogram
}

var (
	_ deconflict.Store             = (*DB)(nil)
	_ deconflict.Timed             = (*DB)(nil)
	_ deconflict.RevocationCounter = (*DB)(nil)
	_ deconflict.Leaser            = (*DB)(nil)
	_ deconflict.Listener          = (*DB)(nil)
	_ deconflict.Logging           = (*DB)(nil)
)

// SetLogger makes the DB log what its background work meets (Listen losing
// and regaining its connection).
func (db *DB) SetLogger(l *slog.Logger) { db.log.Store(l) }

// logger returns the logger set, or one that discards.
func (db *DB) logger() *slog.Logger {
	if l := db.log.Load(); l != nil {
		return l
	}
	return slog.New(slog.DiscardHandler)
}

// Open connects to the database at url (a postgres:// URL or key=value
// string, as pgx reads it) and brings its schema up to date. Several
// processes may open the same database at once: they take turns to
// migrate it. A database whose schema is newer than the program is
// refused.
func Open(ctx context.Context, url string) (*DB, error) {
	db, err := connect(url)
	if err != nil {
		return nil, err
	}
	if err := migrate(ctx, db.pool); err != nil {
		db.pool.Close()
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	return db, nil
}

// connect makes the pool, without connecting yet.
// connectTimeout is how long a connection may take to be made when the
// URL does not say (connect_timeout).
var connectTimeout = 10 * time.Second

func connect(url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		// Views run beside the writer, and Listen and leases hold
		// connections of their own (a lease one of the pool's).
		cfg.MaxConns = int32(max(8, 4*runtime.GOMAXPROCS(0)))
	}
	// A server that accepts the connection and never answers (a hung
	// host, a wrong port behind a proxy) fails the start rather than
	// hanging it; connect_timeout in the URL overrides this.
	if !strings.Contains(url, "connect_timeout") {
		cfg.ConnConfig.ConnectTimeout = connectTimeout
	}
	// Durability rests on synchronous_commit, whatever the server's or
	// role's default.
	if cfg.ConnConfig.RuntimeParams == nil {
		cfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["synchronous_commit"]; !ok {
		cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	}
	// A replica whose host hangs or is cut off must not keep its session,
	// and with it the webhook lease, until the kernel's default keepalive
	// gives up two hours later: the server probes after 10 s of silence
	// and drops the session after about 30 s without an answer.
	for k, v := range map[string]string{
		"tcp_keepalives_idle": "10", "tcp_keepalives_interval": "5", "tcp_keepalives_count": "3",
		"tcp_user_timeout": "30000",
	} {
		if _, ok := cfg.ConnConfig.RuntimeParams[k]; !ok {
			cfg.ConnConfig.RuntimeParams[k] = v
		}
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	return &DB{pool: pool, writer: make(chan struct{}, 1)}, nil
}

// Pool returns the connection pool, for tests and tools.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Update runs fn in a write transaction. The transaction begins and takes
// the database's write lock (an advisory transaction lock) in the round
// trip of fn's first statement, before that statement runs, so write
// transactions are serialised with every other writer of the database, in
// every process; Updates of one DB also queue in the process first,
// holding no connection. If fn appended events, the transaction notifies
// EventsChannel with the last seq, in the transaction, so that the
// notification goes out if and only if the transaction commits. After a
// serialization failure or deadlock, Update runs fn again, a few times at
// most. When Update returns nil, the transaction is committed and durable.
// When the database cannot be reached or cannot write (a failover), Update
// returns an EUnavailable error: the transaction did not commit, or its
// commit was under way and may have. fn must not call Update on the same
// DB.
func (db *DB) Update(ctx context.Context, fn func(deconflict.Tx) error) error {
	for attempt := 0; ; attempt++ {
		err := db.update(ctx, fn)
		if err == nil || !retryable(err) || attempt == maxRetries || ctx.Err() != nil {
			return db.unavailable("write transaction", err)
		}
		d := time.Duration(1+rand.IntN(1<<attempt)) * time.Millisecond
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
	}
}

// beginWrite starts a write transaction and takes the write lock. It is
// sent with the first statement of fn, in one round trip. READ COMMITTED
// suffices: every statement after the lock sees every transaction that
// committed before the lock was granted.
func beginWrite() []queued {
	return []queued{
		{what: "begin transaction", query: "BEGIN ISOLATION LEVEL READ COMMITTED"},
		{what: "take the write lock", query: fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", writeLockKey)},
	}
}

// beginRead starts a read transaction, sent with its first statement.
func beginRead() []queued {
	return []queued{{what: "begin transaction", query: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"}}
}

func (db *DB) update(ctx context.Context, fn func(deconflict.Tx) error) error {
	select {
	case db.writer <- struct{}{}:
		defer func() { <-db.writer }()
	case <-ctx.Done():
		return fmt.Errorf("begin write transaction: %w", ctx.Err())
	}
	c, err := db.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("begin write transaction: %w", err)
	}
	t := (&tx{conn: c, pending: beginWrite(), write: true, db: db}).withShared()
	defer t.end(ctx)
	if err := fn(t); err != nil {
		return err
	}
	if t.lastSeq > 0 {
		// With the commit, in its round trip: sent iff it commits.
		t.later("notify", "SELECT pg_notify($1, $2)", EventsChannel, strconv.FormatInt(t.lastSeq, 10))
	}
	began := time.Now()
	if err := t.commit(ctx); err != nil {
		return err
	}
	db.commitTime.Observe(time.Since(began))
	if !t.locked.IsZero() {
		db.lockHeld.Observe(time.Since(t.locked))
	}
	return nil
}

// Timings reports how long write transactions' commits took: the round
// trip that sends the statements held back and COMMIT, and the server's
// flush of its WAL (and, with synchronous replication, the standby's).
func (db *DB) Timings() []deconflict.Timing {
	return []deconflict.Timing{
		db.commitTime.Timing("commit", "Write transactions' commits: the round trip with the statements held back and COMMIT, the flush included."),
		db.lockWait.Timing("write_lock_wait", "Write transactions' first round trip: the wait for the database's write lock, and the reads sent with it."),
		db.lockHeld.Timing("write_lock_held", "Write transactions' time holding the database's write lock, from its grant to the commit's answer."),
	}
}

// View runs fn in a read-only transaction (REPEATABLE READ, READ ONLY)
// that sees the state of the store as of its first statement. Views run
// alongside each other and alongside the writer.
// When the database cannot be reached, View returns an EUnavailable error.
func (db *DB) View(ctx context.Context, fn func(deconflict.Tx) error) error {
	return db.unavailable("read transaction", db.view(ctx, fn))
}

func (db *DB) view(ctx context.Context, fn func(deconflict.Tx) error) error {
	c, err := db.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("begin read transaction: %w", err)
	}
	t := (&tx{conn: c, pending: beginRead()}).withShared()
	defer t.end(ctx)
	if err := fn(t); err != nil {
		return err
	}
	return t.commit(ctx)
}

// commit sends the pending statements and COMMIT, in one round trip.
// PostgreSQL answers COMMIT of a failed transaction with ROLLBACK, not an
// error: that is an error here.
func (t *tx) commit(ctx context.Context) error {
	if !t.open && t.writes == 0 {
		return nil // fn ran no statement: there is nothing to commit
	}
	tag, err := t.exec(ctx, "COMMIT")
	t.open = false
	if err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	if tag.String() != "COMMIT" {
		return fmt.Errorf("commit transaction: the transaction was rolled back after an earlier error (%s)", tag)
	}
	return nil
}

// end rolls the transaction back unless it ended, and gives the
// connection back to the pool. It runs deferred, also when fn panics. A
// connection whose rollback fails is closed: the pool then drops it.
func (t *tx) end(ctx context.Context) {
	if t.open {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		if _, err := t.conn.Exec(rctx, "ROLLBACK"); err != nil {
			t.conn.Conn().Close(rctx)
		}
		cancel()
		t.open = false
	}
	t.conn.Release()
}

// retryable reports whether err is a serialization failure or a deadlock,
// after which the transaction may succeed if run again.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// isUniqueViolation reports whether err is PostgreSQL's report of a
// violated UNIQUE or PRIMARY KEY constraint.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// Ping reports whether the database answers. Without a deadline in ctx it
// gives up after PingTimeout.
func (db *DB) Ping(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, PingTimeout)
		defer cancel()
	}
	if err := db.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping postgres store: %w", err)
	}
	return nil
}

// Close closes the pool's connections; it waits for those in use to be
// given back.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}
