package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/storeval"
)

// Operation returns the operation with the ID; ENotFound if there is none.
func (t *tx) Operation(ctx context.Context, id string) (*deconflict.Operation, error) {
	if op, ok, err := t.prefetchedOperation(ctx, id); ok {
		return op, err
	}
	return t.shared.Operation(ctx, id)
}

// PutOperation inserts the operation or replaces the one with its ID,
// which keeps its place in lists.
func (t *tx) PutOperation(ctx context.Context, op *deconflict.Operation) error {
	return t.putOperation(ctx, op, nil)
}

// PutOperationGeometry does what PutOperation does and keeps geom with the
// operation.
func (t *tx) PutOperationGeometry(ctx context.Context, op *deconflict.Operation, geom []byte) error {
	if geom == nil {
		geom = []byte{}
	}
	return t.putOperation(ctx, op, geom)
}

// putOperation stores op with geom, or with no geometry (NULL) if geom is
// nil.
func (t *tx) putOperation(ctx context.Context, op *deconflict.Operation, geom []byte) error {
	t.wroteOperation(op.ID)
	var g any
	if geom != nil {
		g = geom
	}
	stored := *op
	stored.CreatedAt = storeval.NormTime(op.CreatedAt)
	stored.UpdatedAt = storeval.NormTime(op.UpdatedAt)
	doc, err := json.Marshal(&stored)
	if err != nil {
		return fmt.Errorf("encode operation %s: %w", op.ID, err)
	}
	if _, err := t.exec(ctx, `INSERT INTO operations (id, party, state, rev, t_start, t_end, doc, geom)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET party = excluded.party, state = excluded.state, rev = excluded.rev,
			t_start = excluded.t_start, t_end = excluded.t_end, doc = excluded.doc, geom = excluded.geom`,
		op.ID, op.Party, string(op.State), op.Rev, storeval.Micros(op.Start), storeval.Micros(op.End), string(doc), g); err != nil {
		return fmt.Errorf("put operation %s: %w", op.ID, err)
	}
	return nil
}

// Operations lists the operations that pass the filter, in the order they
// were first stored, a page at a time.
func (t *tx) Operations(ctx context.Context, f deconflict.OperationFilter) ([]*deconflict.Operation, string, error) {
	after, err := storeval.DecodeCursor(f.After)
	if err != nil {
		return nil, "", err
	}
	limit := storeval.PageSize(f.Limit)

	where, args := storeval.OperationsWhere(dialect, f, after)
	if f.IDs != nil {
		ids, err := json.Marshal(f.IDs)
		if err != nil {
			return nil, "", err
		}
		// Driven by the list of IDs (each looked up by the index on id),
		// not by a scan of every row that passes the other filters.
		where += " AND seq IN (SELECT o.seq FROM json_each(" + args.Add(string(ids)) + ") AS j JOIN operations AS o ON o.id = j.value)"
	}
	q := "SELECT " + storeval.OperationColumns + " FROM operations WHERE " + where + " ORDER BY seq"
	if f.Match == nil {
		// One more than the page, to know whether another page follows.
		q += " LIMIT " + args.Add(limit+1)
	}

	rows, err := t.query(ctx, q, args.Values...)
	if err != nil {
		return nil, "", fmt.Errorf("select operations: %w", err)
	}
	defer rows.Close()
	var ops []*deconflict.Operation
	var last int64 // seq of the last operation of the page
	more := false
	size := 0 // of the operations in the page
	for rows.Next() {
		sized := &storeval.SizedRow{Row: rows}
		op, seq, err := storeval.ScanOperation(sized)
		if err != nil {
			return nil, "", fmt.Errorf("select operations: %w", err)
		}
		if f.Match != nil && !f.Match(op) {
			continue
		}
		if len(ops) == limit || storeval.Full(size, f.MaxBytes) {
			more = true
			break
		}
		ops = append(ops, op)
		last = seq
		size += sized.Bytes
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("select operations: %w", err)
	}
	if !more {
		return ops, "", nil
	}
	return ops, storeval.EncodeCursor(last), nil
}

// sinceBatch is how many operations OperationsSince reads before it calls
// fn on them, with no query open.
const sinceBatch = 256

// OperationsSince calls fn on every operation whose Rev is greater than
// rev, in increasing Rev order (then the order they were first stored),
// with live ones only if liveOnly. fn may use the transaction: the walk
// visits, once each, the operations that match when it begins and still
// match when their turn comes, as they are then. An error from fn stops
// the walk and is returned as it is.
func (t *tx) OperationsSince(ctx context.Context, rev int64, liveOnly bool, fn func(*deconflict.Operation) error) error {
	cond := "rev > ?"
	if liveOnly {
		cond += " AND " + storeval.Live
	}
	seqs, err := t.seqs(ctx, "SELECT seq FROM operations WHERE "+cond+" ORDER BY rev, seq", rev)
	if err != nil {
		return fmt.Errorf("select operations since %d: %w", rev, err)
	}
	for len(seqs) > 0 {
		n := min(len(seqs), sinceBatch)
		batch, err := t.operationsBySeq(ctx, seqs[:n], cond, rev)
		if err != nil {
			return fmt.Errorf("select operations since %d: %w", rev, err)
		}
		for _, seq := range seqs[:n] {
			if op, ok := batch[seq]; ok {
				if err := fn(op); err != nil {
					return err
				}
			}
		}
		seqs = seqs[n:]
	}
	return nil
}

// seqs returns the one integer column the query q lists.
func (t *tx) seqs(ctx context.Context, q string, args ...any) ([]int64, error) {
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var seqs []int64
	for rows.Next() {
		var seq int64
		if err := rows.Scan(&seq); err != nil {
			return nil, err
		}
		seqs = append(seqs, seq)
	}
	return seqs, rows.Err()
}

// operationsBySeq returns those of the operations with the seqs that also
// meet cond, by seq.
func (t *tx) operationsBySeq(ctx context.Context, seqs []int64, cond string, args ...any) (map[int64]*deconflict.Operation, error) {
	q := "SELECT " + storeval.OperationColumns + " FROM operations WHERE seq IN (" + placeholders(len(seqs)) + ") AND " + cond
	all := make([]any, 0, len(seqs)+len(args))
	for _, seq := range seqs {
		all = append(all, seq)
	}
	rows, err := t.query(ctx, q, append(all, args...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ops := make(map[int64]*deconflict.Operation, len(seqs))
	for rows.Next() {
		op, seq, err := storeval.ScanOperation(rows)
		if err != nil {
			return nil, err
		}
		ops[seq] = op
	}
	return ops, rows.Err()
}

// LiveGeometries calls fn for every live operation, with its kept
// geometry or else its document (see deconflict.GeometryTx). Reading a
// million rows through the driver is most of a restart, so a read
// transaction splits the table into ranges of seq read on as many
// connections as there are cores; fn is still called by one goroutine at
// a time. The other connections' snapshots may be later than this
// transaction's: the mechanism catches its index up from this
// transaction's last seq afterwards, so an operation changed meanwhile is
// applied again, never lost.
func (t *tx) LiveGeometries(ctx context.Context, fn func(*deconflict.LiveGeometry) error) error {
	parts := runtime.GOMAXPROCS(0)
	var lo, hi sql.NullInt64
	if err := t.queryRow(ctx, "SELECT min(seq), max(seq) FROM operations").Scan(&lo, &hi); err != nil {
		return fmt.Errorf("select live geometries: %w", err)
	}
	if !lo.Valid {
		return nil
	}
	if t.db == nil || parts < 2 || hi.Int64-lo.Int64 < 4096 {
		return liveGeometries(ctx, t.tx, lo.Int64, hi.Int64, fn)
	}
	var (
		mu     sync.Mutex // one fn at a time
		failed atomic.Bool
		errs   = make([]error, parts)
		wg     sync.WaitGroup
	)
	call := func(g *deconflict.LiveGeometry) error {
		if failed.Load() {
			return errStopWalk
		}
		mu.Lock()
		defer mu.Unlock()
		if err := fn(g); err != nil {
			failed.Store(true)
			return err
		}
		return nil
	}
	step := (hi.Int64 - lo.Int64 + int64(parts)) / int64(parts)
	for i := range parts {
		from, to := lo.Int64+int64(i)*step, min(lo.Int64+int64(i+1)*step-1, hi.Int64)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i == 0 {
				errs[i] = liveGeometries(ctx, t.tx, from, to, call)
				return
			}
			errs[i] = t.db.readRange(ctx, from, to, call)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil && !errors.Is(err, errStopWalk) {
			return err
		}
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// errStopWalk ends the other ranges' walks after one failed.
var errStopWalk = errors.New("stopped: another range failed")

// readRange reads the live geometries of seqs from..to in a read
// transaction of its own.
func (db *DB) readRange(ctx context.Context, from, to int64, fn func(*deconflict.LiveGeometry) error) error {
	t, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("begin read transaction: %w", err)
	}
	defer t.Rollback()
	return liveGeometries(ctx, t, from, to, fn)
}

// liveGeometriesQuery reads the live operations of a range of seqs, in
// seq (rowid) order: a range scan of the table, not the state index.
const liveGeometriesQuery = `SELECT 1, ` + storeval.GeometryColumns + `
		FROM operations NOT INDEXED WHERE seq BETWEEN ? AND ? AND ` + storeval.Live

// geometriesSinceQuery reads the operations changed since a rev, on the
// index operations_rev.
const geometriesSinceQuery = `SELECT ` + storeval.Live + `, ` + storeval.GeometryColumns + `
		FROM operations WHERE rev > ?`

// liveGeometries reads the live geometries of seqs from..to on t.
func liveGeometries(ctx context.Context, t *sql.Tx, from, to int64, fn func(*deconflict.LiveGeometry) error) error {
	rows, err := t.QueryContext(ctx, liveGeometriesQuery, from, to)
	if err != nil {
		return fmt.Errorf("select live geometries: %w", err)
	}
	fnErr, err := scanGeometries(rows, func(g *deconflict.LiveGeometry, _ bool) error { return fn(g) })
	if err != nil {
		return fmt.Errorf("select live geometries: %w", err)
	}
	return fnErr
}

// GeometriesSince calls fn for every operation changed since rev (see
// deconflict.GeometriesSinceTx).
func (t *tx) GeometriesSince(ctx context.Context, rev int64, fn func(g *deconflict.LiveGeometry, live bool) error) error {
	rows, err := t.query(ctx, geometriesSinceQuery, rev)
	if err != nil {
		return fmt.Errorf("select geometries since %d: %w", rev, err)
	}
	fnErr, err := scanGeometries(rows, fn)
	if err != nil {
		return fmt.Errorf("select geometries since %d: %w", rev, err)
	}
	return fnErr
}

// scanGeometries reads rows of a live flag and the GeometryColumns, calls
// fn for each and closes rows. An operation no longer live is given by ID
// and party alone. An error of fn stops it and comes back as it is, as
// fnErr; err is the store's.
func scanGeometries(rows *sql.Rows, fn func(*deconflict.LiveGeometry, bool) error) (fnErr, err error) {
	defer rows.Close()
	for rows.Next() {
		var g deconflict.LiveGeometry
		var live bool
		var rev, start, end sql.NullInt64
		var doc sql.NullString
		if err := rows.Scan(&live, &g.ID, &g.Party, &g.Geometry, &rev, &start, &end, &doc); err != nil {
			return nil, err
		}
		var docp *string
		if doc.Valid {
			docp = &doc.String
		}
		if err := storeval.FillGeometry(&g, live, docp, rev.Int64, start.Int64, end.Int64); err != nil {
			return nil, err
		}
		if err := fn(&g, live); err != nil {
			return err, nil
		}
	}
	return nil, rows.Err()
}
