package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/storeval"
	"github.com/jackc/pgx/v5"
)

// Operation returns the operation with the ID; ENotFound if there is none.
func (t *tx) Operation(ctx context.Context, id string) (*deconflict.Operation, error) {
	if op, ok, err := t.prefetchedOperation(id); ok {
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

// operationRows inserts operations, or replaces those with their IDs.
var operationRows = newRowTable("operations", []string{"id text", "party text", "state text", "rev bigint",
	"t_start bigint", "t_end bigint", "doc text", "geom bytea"},
	`ON CONFLICT (id) DO UPDATE SET party = excluded.party, state = excluded.state, rev = excluded.rev,
		t_start = excluded.t_start, t_end = excluded.t_end, doc = excluded.doc, geom = excluded.geom`)

// putOperation stores op with geom, or with no geometry (NULL) if geom is
// nil. The row goes with the next statement, together with the other
// rows queued (see laterRow): a failure then fails the transaction.
func (t *tx) putOperation(ctx context.Context, op *deconflict.Operation, geom []byte) error {
	t.forgetOperation(op.ID)
	stored := *op
	stored.CreatedAt = storeval.NormTime(op.CreatedAt)
	stored.UpdatedAt = storeval.NormTime(op.UpdatedAt)
	doc, err := json.Marshal(&stored)
	if err != nil {
		return fmt.Errorf("encode operation %s: %w", op.ID, err)
	}
	t.laterRow("put operation "+op.ID, operationRows, op.ID,
		op.ID, op.Party, string(op.State), op.Rev, storeval.Micros(op.Start), storeval.Micros(op.End), string(doc), geom)
	return nil
}

// matchBatch is how many rows Operations reads at a time when a Match
// function filters them: enough for a page in one query mostly, without
// reading the whole table for a page of a few.
const matchBatch = 512

// Operations lists the operations that pass the filter, in the order they
// were first stored, a page at a time.
func (t *tx) Operations(ctx context.Context, f deconflict.OperationFilter) ([]*deconflict.Operation, string, error) {
	after, err := storeval.DecodeCursor(f.After)
	if err != nil {
		return nil, "", err
	}
	limit := storeval.PageSize(f.Limit)

	// One more than the page, to know whether another page follows.
	n := limit + 1
	if f.Match != nil {
		n = max(n, matchBatch)
	}
	where, a := storeval.OperationsWhere(dialect, f, after)
	if f.IDs != nil {
		where += " AND id = ANY(" + a.Add(f.IDs) + "::text[])"
	}
	q := "SELECT " + storeval.OperationColumns + " FROM operations WHERE " + where + " ORDER BY seq LIMIT " + a.Add(n)

	var ops []*deconflict.Operation
	var last int64 // seq of the last operation of the page
	size := 0      // of the operations in the page
	more := false
	for {
		read, lastRead, err := t.operationsPage(ctx, q, a.Values, func(op *deconflict.Operation, seq int64, bytes int) bool {
			if f.Match != nil && !f.Match(op) {
				return true
			}
			if len(ops) == limit || storeval.Full(size, f.MaxBytes) {
				more = true
				return false
			}
			ops, last, size = append(ops, op), seq, size+bytes
			return true
		})
		if err != nil {
			return nil, "", fmt.Errorf("select operations: %w", err)
		}
		if more {
			return ops, storeval.EncodeCursor(last), nil
		}
		if read < n {
			return ops, "", nil
		}
		// A Match filtered some out: read on after the last row read.
		a.Values[0] = lastRead
	}
}

// operationsPage runs an Operations query and calls each on its rows in
// order, with the size of each row's document, until each returns false.
// It returns how many rows it read and the seq of the last one. Rows are
// not kept, so a Match that refuses most of them holds no memory for them.
func (t *tx) operationsPage(ctx context.Context, q string, a []any, each func(op *deconflict.Operation, seq int64, bytes int) bool) (int, int64, error) {
	rows, err := t.query(ctx, q, a...)
	if err != nil {
		return 0, 0, err
	}
	defer rows.Close()
	read, last := 0, int64(0)
	for rows.Next() {
		sized := &storeval.SizedRow{Row: rows}
		op, seq, err := storeval.ScanOperation(sized)
		if err != nil {
			return 0, 0, err
		}
		read, last = read+1, seq
		if !each(op, seq, sized.Bytes) {
			break
		}
	}
	return read, last, rows.Err()
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
	cond := sinceCond(liveOnly)
	if walked, err := t.prefetchedSince(ctx, rev, liveOnly, fn); walked {
		return err
	}
	rows, err := t.query(ctx, "SELECT seq FROM operations WHERE "+cond+" ORDER BY rev, seq", rev)
	if err != nil {
		return fmt.Errorf("select operations since %d: %w", rev, err)
	}
	seqs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("select operations since %d: %w", rev, err)
	}
	return t.walkSeqs(ctx, seqs, cond, rev, fn)
}

// sinceCond is the condition of OperationsSince, with the rev as $1.
func sinceCond(liveOnly bool) string {
	if liveOnly {
		return "rev > $1 AND " + storeval.Live
	}
	return "rev > $1"
}

// walkSeqs calls fn on those of the operations with the seqs, in their
// order, that still meet cond (a sinceCond of rev) when their turn comes,
// as they are then, reading them a batch at a time.
func (t *tx) walkSeqs(ctx context.Context, seqs []int64, cond string, rev int64, fn func(*deconflict.Operation) error) error {
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

// operationsBySeq returns those of the operations with the seqs that also
// meet cond (whose argument is $1), by seq.
func (t *tx) operationsBySeq(ctx context.Context, seqs []int64, cond string, arg1 any) (map[int64]*deconflict.Operation, error) {
	rows, err := t.query(ctx, "SELECT "+storeval.OperationColumns+" FROM operations WHERE seq = ANY($2) AND "+cond, arg1, seqs)
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

// LiveGeometries calls fn for every live operation, with its geometry or,
// if none was kept, the operation decoded from its document.
func (t *tx) LiveGeometries(ctx context.Context, fn func(*deconflict.LiveGeometry) error) error {
	rows, err := t.query(ctx, `SELECT true, `+storeval.GeometryColumns+` FROM operations WHERE `+storeval.Live)
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
	rows, err := t.query(ctx, `SELECT `+storeval.Live+`, `+storeval.GeometryColumns+` FROM operations WHERE rev > $1`, rev)
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
func scanGeometries(rows pgx.Rows, fn func(*deconflict.LiveGeometry, bool) error) (fnErr, err error) {
	defer rows.Close()
	for rows.Next() {
		var g deconflict.LiveGeometry
		var live bool
		var rev, start, end *int64
		var doc *string
		if err := rows.Scan(&live, &g.ID, &g.Party, &g.Geometry, &rev, &start, &end, &doc); err != nil {
			return nil, err
		}
		var r, from, to int64
		if doc != nil {
			r, from, to = *rev, *start, *end
		}
		if err := storeval.FillGeometry(&g, live, doc, r, from, to); err != nil {
			return nil, err
		}
		if err := fn(&g, live); err != nil {
			return err, nil
		}
	}
	return nil, rows.Err()
}
