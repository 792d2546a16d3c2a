package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/storeval"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// tx is a deconflict.Tx on one PostgreSQL transaction, on a connection of
// the pool. Its methods live in the file of the noun they store, but for
// those both stores run alike, which are storeval.Tx's (see shared).
type tx struct {
	shared
	conn *pgxpool.Conn
	// pending holds statements not sent yet: first those that begin the
	// transaction, then writes whose result nobody waits for (see later).
	// They go in one round trip with the next statement that needs an
	// answer, or with the commit.
	pending []queued
	open    bool // the transaction began on the server and did not end since
	// lastSeq is the seq of the last event appended, 0 if none; nextSeq
	// the seq the next one gets, 0 until read from the store.
	lastSeq, nextSeq int64
	// hashes holds the log hashes this transaction read or wrote. A hash
	// never changes once stored, and under the write lock nobody else
	// stores one, so the appends of a batch read each hash once.
	hashes map[int64][32]byte
	writes int  // statements queued by later
	write  bool // a write transaction, holding the write lock
	pre    *prefetched
	// db and locked time a write transaction's hold of the write lock:
	// locked is when the round trip that took it was answered.
	db     *DB
	locked time.Time
}

// queued is a statement waiting to be sent.
type queued struct {
	what  string // names the statement in errors
	query string
	args  []any
	read  func(pgx.Rows) error // reads the rows of a query sent ahead (Prefetch); nil for a write
	row   *queuedRow           // a row sent together with others (rows.go); query and args unset
	// failed, if set, makes the statement's error into the error the
	// transaction reports (rather than pendingFailed's).
	failed func(error) error
}

// later queues a write whose outcome the caller does not need at once:
// it is sent with the next statement or the commit, and an error then
// fails that statement (and so the transaction). Round trips, not
// PostgreSQL's work, are most of a write transaction's time, and the
// write lock is held for all of them.
func (t *tx) later(what, query string, args ...any) {
	t.pending = append(t.pending, queued{what: what, query: query, args: args})
	t.writes++
}

var _ deconflict.Tx = (*tx)(nil)

// dialect is how PostgreSQL's SQL differs where both stores build the
// same statements (see storeval.Dialect).
var dialect = storeval.Dialect{Param: storeval.Dollar, Arrays: true, NoRows: pgx.ErrNoRows}

// shared is what both stores run alike (storeval.Tx): the lookups by key
// and the one-row writes. Embedded in tx, its methods are tx's, but for
// those a store runs its own way, which tx defines and which call it as
// t.shared.
type shared = storeval.Tx

// withShared sets t.shared to run on t, and returns t.
func (t *tx) withShared() *tx {
	t.shared = storeval.Tx{Q: rowQuerier{t}, D: dialect}
	return t
}

// rowQuerier is t as storeval.Tx uses it.
type rowQuerier struct{ t *tx }

func (q rowQuerier) QueryRow(ctx context.Context, query string, args ...any) storeval.Row {
	return q.t.queryRow(ctx, query, args...)
}

func (q rowQuerier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := q.t.exec(ctx, query, args...)
	return tag.RowsAffected(), err
}

func (q rowQuerier) Query(ctx context.Context, query string, args ...any) (storeval.ClosingRows, error) {
	return q.t.query(ctx, query, args...)
}

// nullMicros returns *t as stored, or nil (NULL).
func nullMicros(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	v := storeval.Micros(*t)
	return &v
}

// The first statement of a transaction goes in one batch (one round trip)
// with the statements that begin it, and every statement with the writes
// queued before it; exec, query and queryRow send them so.

// sendPending sends the pending statements and then query in one batch,
// and reads the results of the pending ones.
func (t *tx) sendPending(ctx context.Context, query string, args []any) (pgx.BatchResults, error) {
	t.pending = gatherRows(t.pending)
	b := &pgx.Batch{}
	for _, q := range t.pending {
		b.Queue(q.query, q.args...)
	}
	b.Queue(query, args...)
	pending := t.pending
	first := !t.open
	t.pending, t.open = nil, true
	sent := time.Now()
	br := t.conn.SendBatch(ctx, b)
	if first && t.write && t.db != nil {
		// The lock is taken by the first statements: their results are
		// read below, so timing ends when the last of them is.
		defer func() {
			t.locked = time.Now()
			t.db.lockWait.Observe(t.locked.Sub(sent))
		}()
	}
	for _, q := range pending {
		if q.read != nil {
			if err := readAhead(br, q); err != nil {
				br.Close()
				return nil, pendingFailed(q.what, err)
			}
			continue
		}
		if _, err := br.Exec(); err != nil {
			br.Close()
			if q.failed != nil {
				if ferr := q.failed(err); ferr != nil {
					return nil, ferr
				}
			}
			return nil, pendingFailed(q.what, err)
		}
	}
	return br, nil
}

// readAhead reads the rows of a query sent ahead with q.read.
func readAhead(br pgx.BatchResults, q queued) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	err = q.read(rows)
	rows.Close()
	if err == nil {
		err = rows.Err()
	}
	return err
}

// pendingFailed is the error of a statement sent later than it was asked
// for. It comes out of the next statement's call, so it must not read as
// that statement's own answer (a unique violation of a queued insert is
// not an EExists of, say, PutConflict): only its retryability, and a
// lost or unwritable database (transient), show through.
func pendingFailed(what string, err error) error {
	if retryable(err) || transient(err) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%s: %v", what, err)
}

func (t *tx) exec(ctx context.Context, query string, args ...any) (pgconn.CommandTag, error) {
	if len(t.pending) == 0 {
		return t.conn.Exec(ctx, query, args...)
	}
	br, err := t.sendPending(ctx, query, args)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, err
}

func (t *tx) query(ctx context.Context, query string, args ...any) (pgx.Rows, error) {
	if len(t.pending) == 0 {
		return t.conn.Query(ctx, query, args...)
	}
	br, err := t.sendPending(ctx, query, args)
	if err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		br.Close()
		return nil, err
	}
	return &batchRows{Rows: rows, br: br}, nil
}

func (t *tx) queryRow(ctx context.Context, query string, args ...any) pgx.Row {
	if len(t.pending) == 0 {
		return t.conn.QueryRow(ctx, query, args...)
	}
	br, err := t.sendPending(ctx, query, args)
	if err != nil {
		return errRow{err}
	}
	return batchRow{row: br.QueryRow(), br: br}
}

// batchRows are the rows of a statement sent with begin: closing them
// closes the batch.
type batchRows struct {
	pgx.Rows
	br  pgx.BatchResults
	err error // of closing br
}

func (r *batchRows) Close() {
	r.Rows.Close()
	if r.br != nil {
		r.err = r.br.Close()
		r.br = nil
	}
}

func (r *batchRows) Next() bool {
	if r.Rows.Next() {
		return true
	}
	r.Close()
	return false
}

func (r *batchRows) Err() error {
	if err := r.Rows.Err(); err != nil {
		return err
	}
	return r.err
}

// batchRow is the row of a statement sent with begin.
type batchRow struct {
	row pgx.Row
	br  pgx.BatchResults
}

func (r batchRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	if cerr := r.br.Close(); err == nil {
		err = cerr
	}
	return err
}

// errRow is a row that fails to scan with err.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }
