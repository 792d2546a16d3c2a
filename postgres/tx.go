package postgres

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"time"

	"github.com/deconflict/deconflict"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// tx is a deconflict.Tx on one PostgreSQL transaction, on a connection of
// the pool. Its methods live in the file of the noun they store.
type tx struct {
	conn *pgxpool.Conn
	// begin holds the statements that begin the transaction until they
	// are sent, in one round trip with the first statement of fn.
	begin []string
	open  bool // begin was sent, and the transaction did not end since
	// lastSeq is the seq of the last event appended, 0 if none.
	lastSeq int64
}

var _ deconflict.Tx = (*tx)(nil)

// defaultLimit is the page size of a list whose filter leaves Limit zero.
const defaultLimit = 1000

// pageSize returns the number of items a page of a list holds.
func pageSize(limit int) int {
	if limit <= 0 {
		return defaultLimit
	}
	return limit
}

// Times are stored as microseconds since the Unix epoch and read back in
// UTC, as the SQLite store keeps them: a time keeps its instant to the
// microsecond but not its zone.

// micros returns t as stored.
func micros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros returns the time stored as v.
func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

// normTime returns t as it reads back from the store.
func normTime(t time.Time) time.Time { return fromMicros(micros(t)) }

// normTimePtr returns a copy of *t as it reads back, or nil.
func normTimePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	n := normTime(*t)
	return &n
}

// nullMicros returns *t as stored, or nil (NULL).
func nullMicros(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	v := micros(*t)
	return &v
}

// fromNullMicros returns the time stored as v, or nil.
func fromNullMicros(v *int64) *time.Time {
	if v == nil {
		return nil
	}
	t := fromMicros(*v)
	return &t
}

// Cursors are the seq of the last item of a page, in unpadded base64url so
// that callers treat them as opaque: the same as the SQLite store's.

// encodeCursor returns the cursor of the page after the item with seq.
func encodeCursor(seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(seq, 10)))
}

// decodeCursor returns the seq a cursor names; "" names the start.
func decodeCursor(c string) (int64, error) {
	if c == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err == nil {
		var seq int64
		if seq, err = strconv.ParseInt(string(b), 10, 64); err == nil && seq > 0 {
			return seq, nil
		}
	}
	return 0, deconflict.FieldErrorf(deconflict.EInvalid, "after", "invalid cursor %q", c)
}

// args collects the arguments of a statement built piece by piece.
type args []any

// add appends v and returns its placeholder.
func (a *args) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// page runs a list query whose last argument is the page size plus one
// (to know whether another page follows) and scans up to limit rows with
// scan, which also returns each row's seq. It returns the cursor of the
// next page, or "" after the last.
func page[T any](ctx context.Context, t *tx, noun, query string, args []any, limit int, scan func(pgx.Row) (T, int64, error)) ([]T, string, error) {
	rows, err := t.query(ctx, query, args...)
	if err != nil {
		return nil, "", fmt.Errorf("select %s: %w", noun, err)
	}
	defer rows.Close()
	var out []T
	var last int64
	for rows.Next() {
		if len(out) == limit {
			return out, encodeCursor(last), nil
		}
		v, seq, err := scan(rows)
		if err != nil {
			return nil, "", fmt.Errorf("select %s: %w", noun, err)
		}
		out, last = append(out, v), seq
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("select %s: %w", noun, err)
	}
	return out, "", nil
}

// list runs a query and scans every row with scan.
func list[T any](ctx context.Context, t *tx, query string, args []any, scan func(pgx.Row) (T, error)) ([]T, error) {
	rows, err := t.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// The first statement of a transaction goes in one batch (one round trip)
// with the statements of begin; exec, query and queryRow send it so.

// sendFirst sends the begin statements and the query in one batch, and
// reads the results of the begin statements.
func (t *tx) sendFirst(ctx context.Context, query string, args []any) (pgx.BatchResults, error) {
	b := &pgx.Batch{}
	for _, s := range t.begin {
		b.Queue(s)
	}
	b.Queue(query, args...)
	n := len(t.begin)
	t.begin, t.open = nil, true
	br := t.conn.SendBatch(ctx, b)
	for range n {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return nil, fmt.Errorf("begin transaction: %w", err)
		}
	}
	return br, nil
}

func (t *tx) exec(ctx context.Context, query string, args ...any) (pgconn.CommandTag, error) {
	if t.begin == nil {
		return t.conn.Exec(ctx, query, args...)
	}
	br, err := t.sendFirst(ctx, query, args)
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
	if t.begin == nil {
		return t.conn.Query(ctx, query, args...)
	}
	br, err := t.sendFirst(ctx, query, args)
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
	if t.begin == nil {
		return t.conn.QueryRow(ctx, query, args...)
	}
	br, err := t.sendFirst(ctx, query, args)
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
