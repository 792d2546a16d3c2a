package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/storeval"
)

// tx is a deconflict.Tx on one SQLite transaction. Its methods live in the
// file of the noun they store, but for those both stores run alike, which
// are storeval.Tx's (see shared).
type tx struct {
	shared
	tx     *sql.Tx
	cache  *stmtCache // the pool's statements; nil for none
	stmts  map[string]*sql.Stmt
	missed []string           // queries prepared for this transaction only, for the cache
	duties []*deconflict.Duty // written by PutDuty, not yet stored; see flushDuties
	db     *DB                // of a read transaction: the store, for reads on more connections
	// logPut holds the log hashes this transaction stored, which the
	// next appends of the same batch read back (see LogHashes).
	logPut map[int64][32]byte
	// logWait holds the hashes PutLogHashes has not inserted yet (see
	// flushLogHashes); logLast is the highest storage index with a hash,
	// stored or waiting, once logKnown.
	logWait  []logRun
	logLast  int64
	logKnown bool
	// failed is the first failure to store rows held back (duties, log
	// hashes): they are gone from the transaction, so it must not
	// commit, even if its caller carried on.
	failed error
	// kept is what the write connection keeps between transactions (see
	// kept.go), nil in a read transaction; version is the connection's
	// data_version, once versionRead; changedKept is set once the
	// transaction changes the parties or the settings.
	kept                     *kept
	version                  int64
	versionRead, changedKept bool
	tops                     tops
	pre                      *prefetch // the operations a batch is about to read (prefetch.go)
}

// fail records err as the transaction's failure, and returns it.
func (t *tx) fail(err error) error {
	if t.failed == nil {
		t.failed = err
	}
	return err
}

var _ deconflict.Tx = (*tx)(nil)

// dialect is how SQLite's SQL differs where both stores build the same
// statements (see storeval.Dialect).
var dialect = storeval.Dialect{Param: storeval.QuestionMark, NoRows: sql.ErrNoRows}

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
	res, err := q.t.exec(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (q rowQuerier) Query(ctx context.Context, query string, args ...any) (storeval.ClosingRows, error) {
	rows, err := q.t.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return closingRows{rows}, nil
}

// closingRows are *sql.Rows as storeval.ClosingRows. Close drops its
// error: a reader that read every row has had any error from Err.
type closingRows struct{ *sql.Rows }

func (r closingRows) Close() { _ = r.Rows.Close() }

// nullMicros returns *t as stored, or NULL.
func nullMicros(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: storeval.Micros(*t), Valid: true}
}

// placeholders returns "?, ?, …" with n marks.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// isConstraint reports whether err is SQLite's report of a violated
// UNIQUE or PRIMARY KEY constraint.
func isConstraint(err error) bool {
	code, ok := errorCode(err)
	return ok && code == sqliteConstraint
}

// Statements are prepared once per pool (see stmtCache), or else once per
// transaction, and reused: a batch of declarations runs the same few
// statements many times.

// stmt returns the prepared form of query in this transaction.
func (t *tx) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if s, ok := t.stmts[query]; ok {
		return s, nil
	}
	var s *sql.Stmt
	if ps := t.cache.get(query); ps != nil {
		s = t.tx.StmtContext(ctx, ps)
	} else {
		var err error
		if s, err = t.tx.PrepareContext(ctx, query); err != nil {
			return nil, err
		}
		if t.cache != nil {
			t.missed = append(t.missed, query)
		}
	}
	if t.stmts == nil {
		t.stmts = map[string]*sql.Stmt{}
	}
	t.stmts[query] = s
	return s, nil
}

func (t *tx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	s, err := t.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return s.ExecContext(ctx, args...)
}

func (t *tx) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	s, err := t.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return s.QueryContext(ctx, args...)
}

// queryRow is QueryRowContext through the statement cache. A preparation
// error surfaces from Scan, as with sql.Tx.QueryRowContext.
func (t *tx) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	s, err := t.stmt(ctx, query)
	if err != nil {
		return t.tx.QueryRowContext(ctx, query, args...)
	}
	return s.QueryRowContext(ctx, args...)
}
