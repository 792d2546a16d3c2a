package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/timing"
)

// BusyTimeout is how long a transaction waits for a lock another
// connection holds (a writer in another process, or WAL recovery) before
// it fails with "database is locked".
const BusyTimeout = 10 * time.Second

// DB is a deconflict.Store kept in one SQLite file. It is safe for
// concurrent use, and several processes may use the same file at once.
type DB struct {
	path  string
	write *sql.DB // one connection: writers queue here, in this process
	read  *sql.DB // several query-only connections
	ckpt  *sql.DB // one connection for checkpoints, off the writers' path

	writeStmts, readStmts *stmtCache
	// kept holds the parties and settings between write transactions
	// (kept.go).
	kept kept

	stopCheckpoints func()       // stops the checkpointer and waits for it
	commits         atomic.Int64 // write transactions committed, for the checkpointer
	// How long commits (with their flush of the WAL) and background
	// checkpoints took: see Timings.
	commitTime, ckptTime timing.Histogram

	watch commitWatch // what CommitMark reads
}

// Page caches stay at SQLite's default (2 MiB). A larger one on the
// read connections costs more than it saves: SQLite empties a
// connection's cache whenever another one has written since its last
// transaction, which on a busy server is before nearly every read. On the
// write connection a larger cache saves little, since the pages a batch
// touches are mostly new, and filling it costs an allocation a page.

// Checkpoints copy the WAL back into the database file. SQLite runs them
// inside the commit that makes the WAL longer than 1,000 pages, which
// stalls every declaration queued behind that commit. A background
// goroutine on its own connection copies most of it instead, every
// checkpointInterval (a PASSIVE checkpoint waits for no one, and writers
// go on while it runs); checkpointing that often leaves little for the
// writer's own checkpoints to copy, so they stay short. The write
// connection still checkpoints past writeAutoCheckpoint pages: by then
// little is left to copy, and only a checkpoint that copies everything
// lets the next writer start the WAL from its beginning again. The
// background alone cannot do that: a writer that never pauses leaves it no
// moment when the WAL is copied whole, and the WAL would grow without
// bound toward one commit that copies it all. The writer's own checkpoint
// is what keeps the WAL bounded. Durability does
// not depend on checkpoints: a commit is on disk once its WAL frames are
// (synchronous=FULL).
const (
	checkpointInterval  = 10 * time.Millisecond
	writeAutoCheckpoint = 4000 // pages (16 MiB)
)

var (
	_ deconflict.Store             = (*DB)(nil)
	_ deconflict.Timed             = (*DB)(nil)
	_ deconflict.RevocationCounter = (*DB)(nil)
	_ deconflict.CommitWatcher     = (*DB)(nil)
)

// Open opens the store in the SQLite file at path, creating the file if it
// does not exist, and brings its schema up to date. The directory must
// exist.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("open sqlite store: empty path")
	}
	db := &DB{path: path}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	// The store holds token hashes, private notes and the signing key:
	// create it readable by its owner only (SQLite gives its WAL and
	// shared-memory files the same permissions).
	if f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		f.Close()
	} else if !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("create sqlite store %s: %w", path, err)
	}
	// The writer's transactions begin with BEGIN IMMEDIATE: they take the
	// write lock at once, rather than failing when a read turns into a
	// write. SQLite's own wait for the lock is off (busy_timeout 0):
	// begin waits instead, polling often enough to find the gaps between
	// the transactions of a busy writer in another process.
	db.write = openPool(dsn(abs, url.Values{
		"_txlock":       {"immediate"},
		"_synchronous":  {"FULL"},
		"_busy_timeout": {"0"},
	}),
		// A WAL grown by a burst shrinks back to 64 MiB. The statement
		// journal (kept while a multi-row statement runs, to undo it
		// alone) stays in memory: on a temporary file, past 64 KiB, every
		// page it keeps would be a system call under the write lock.
		fmt.Sprintf("wal_autocheckpoint = %d", writeAutoCheckpoint),
		"journal_size_limit = 67108864", "temp_store = MEMORY")
	db.write.SetMaxOpenConns(1)
	db.write.SetMaxIdleConns(1)
	db.write.SetConnMaxLifetime(0)
	db.write.SetConnMaxIdleTime(0)

	if err := db.init(ctx); err != nil {
		db.write.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}

	db.read = openPool(dsn(abs, url.Values{
		"_query_only":  {"1"},
		"_synchronous": {"FULL"},
	}))
	n := max(4, runtime.GOMAXPROCS(0))
	db.read.SetMaxOpenConns(n)
	db.read.SetMaxIdleConns(n)
	if err := db.read.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	db.watch.file, db.watch.err = mainFile(ctx, db.read)
	db.ckpt = openPool(dsn(abs, url.Values{"_synchronous": {"FULL"}}))
	db.ckpt.SetMaxOpenConns(1)
	db.ckpt.SetMaxIdleConns(1)
	db.ckpt.SetConnMaxLifetime(0)
	db.ckpt.SetConnMaxIdleTime(0)
	db.writeStmts, db.readStmts = newStmtCache(db.write), newStmtCache(db.read)
	db.startCheckpoints()
	return db, nil
}

// startCheckpoints starts the background checkpointer.
func (db *DB) startCheckpoints() {
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(checkpointInterval)
		defer t.Stop()
		var seen int64
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				// Only after commits: an idle store is left alone. A
				// busy or failed checkpoint is tried again next time;
				// the write connection's own limit is the backstop.
				if n := db.commits.Load(); n != seen {
					seen = n
					began := time.Now()
					_, _ = db.ckpt.Exec("PRAGMA wal_checkpoint(PASSIVE)")
					db.ckptTime.Observe(time.Since(began))
				}
			}
		}
	}()
	var once sync.Once
	db.stopCheckpoints = func() { once.Do(func() { close(stop) }); <-done }
}

// openPool returns a pool of connections to name (see dsn), each of which
// runs the pragmas ("name = value") when it opens.
func openPool(name string, pragmas ...string) *sql.DB {
	return sql.OpenDB(connector{name: name, pragmas: pragmas})
}

// connector opens connections for openPool.
type connector struct {
	name    string
	pragmas []string
}

func (c connector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := sqliteDriver.Open(c.name)
	if err != nil {
		return nil, err
	}
	for _, p := range c.pragmas {
		if err := execConn(ctx, conn, "PRAGMA "+p); err != nil {
			conn.Close()
			return nil, fmt.Errorf("PRAGMA %s: %w", p, err)
		}
	}
	return conn, nil
}

func (c connector) Driver() driver.Driver { return sqliteDriver }

// execConn runs a statement that returns no rows on a connection of the
// driver (both drivers' connections run statements directly).
func execConn(ctx context.Context, conn driver.Conn, query string) error {
	e, ok := conn.(driver.ExecerContext)
	if !ok {
		return fmt.Errorf("%s: the driver's connection cannot run statements", Library)
	}
	_, err := e.ExecContext(ctx, query, nil)
	return err
}

// dsn returns the driver's name for the file at the absolute path, with
// the settings every connection shares and extra.
func dsn(path string, extra url.Values) string {
	q := url.Values{
		"_busy_timeout": {strconv.FormatInt(BusyTimeout.Milliseconds(), 10)},
	}
	for k, v := range extra {
		q[k] = v
	}
	// A file: URI of the absolute path, so that a path holding '?', '#'
	// or '%' is taken literally.
	u := url.URL{Scheme: "file", OmitHost: true, Path: path, RawQuery: q.Encode()}
	return u.String()
}

// init switches the file to WAL mode, applies the migrations and makes the
// file's directory entry durable.
func (db *DB) init(ctx context.Context) error {
	var mode string
	if err := retryBusy(ctx, func() error {
		return db.write.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode)
	}); err != nil {
		return fmt.Errorf("read journal mode: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		// The change takes an exclusive lock, for a moment.
		err := retryBusy(ctx, func() error {
			return db.write.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode)
		})
		if err != nil {
			return fmt.Errorf("set journal mode: %w", err)
		}
		if !strings.EqualFold(mode, "wal") {
			return fmt.Errorf("set journal mode: got %q, want wal", mode)
		}
	}
	if err := migrate(ctx, db.write); err != nil {
		return err
	}
	return syncDir(filepath.Dir(db.path))
}

// syncDir flushes the directory holding a new file, so that the file
// itself survives a power failure.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("sync directory: %w", err)
	}
	return nil
}

// Path returns the path of the database file, as given to Open.
func (db *DB) Path() string { return db.path }

// Update runs fn in a write transaction. Transactions of one DB queue for
// its one write connection; those of other processes wait up to
// BusyTimeout for the file's write lock. When Update returns nil, the
// transaction is on disk (WAL, synchronous=FULL). fn must not call Update
// on the same DB.
func (db *DB) Update(ctx context.Context, fn func(deconflict.Tx) error) error {
	t, err := begin(ctx, db.write)
	if err != nil {
		return fmt.Errorf("begin write transaction: %w", err)
	}
	tx := (&tx{tx: t, cache: db.writeStmts, kept: &db.kept}).withShared()
	defer func() {
		t.Rollback()
		if tx.changedKept {
			db.kept.drop() // read again, whether this committed or not
		}
		// With the connection free again, keep what this transaction
		// prepared for itself prepared for the next ones.
		db.writeStmts.add(ctx, tx.missed)
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.flushDuties(ctx); err != nil {
		return err
	}
	if err := tx.flushLogHashes(ctx); err != nil {
		return err
	}
	if tx.failed != nil {
		return fmt.Errorf("not committed: an earlier write of the transaction failed: %w", tx.failed)
	}
	began := time.Now()
	if err := t.Commit(); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	tx.committed()
	db.commitTime.Observe(time.Since(began))
	db.commits.Add(1)
	return nil
}

// Timings reports how long the store's commits took, each with its flush
// of the WAL to disk, and its background checkpoints, which copy the WAL
// into the database file and flush that: a commit waits behind a
// checkpoint's flush, and slow commits are what slow declarations are
// made of.
func (db *DB) Timings() []deconflict.Timing {
	return []deconflict.Timing{
		db.commitTime.Timing("commit", "Write transactions' commits, each with its flush of the WAL to disk."),
		db.ckptTime.Timing("checkpoint", "Background checkpoints: the WAL copied into the database file, and that flushed."),
	}
}

// View runs fn in a read-only transaction that sees the state of the
// store as of its first read. Views run alongside each other and alongside
// a write transaction.
func (db *DB) View(ctx context.Context, fn func(deconflict.Tx) error) error {
	t, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("begin read transaction: %w", err)
	}
	tx := (&tx{tx: t, cache: db.readStmts, db: db}).withShared()
	defer func() {
		t.Rollback()
		db.readStmts.add(ctx, tx.missed)
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if err := t.Commit(); err != nil {
		return fmt.Errorf("end read transaction: %w", err)
	}
	return nil
}

// Ping reports whether the database file can be read.
func (db *DB) Ping(ctx context.Context) error {
	var n int
	if err := db.read.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil {
		return fmt.Errorf("ping sqlite store %s: %w", db.path, err)
	}
	return nil
}

// Close closes the store. Transactions under way finish first.
func (db *DB) Close() error {
	var errs []error
	if db.stopCheckpoints != nil {
		db.stopCheckpoints()
	}
	if db.ckpt != nil {
		errs = append(errs, db.ckpt.Close())
	}
	if db.readStmts != nil {
		db.readStmts.close()
		db.writeStmts.close()
	}
	if db.read != nil {
		errs = append(errs, db.read.Close())
	}
	errs = append(errs, db.write.Close())
	errs = append(errs, db.closeCommitWatch())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close sqlite store %s: %w", db.path, err)
	}
	return nil
}
