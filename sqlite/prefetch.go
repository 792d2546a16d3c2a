package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/storeval"
)

var _ deconflict.Prefetcher = (*tx)(nil)

// Each request of a batch of the mechanism's writer first reads its
// operation, most often to find there is none yet. The batch names them
// all at the start (Prefetch), and the first of them read reads them all,
// in one statement instead of one a request. A row read so is decoded
// afresh on every read, so that a caller that changes what it got changes
// nothing kept; one the transaction writes is read from the table again,
// as written. The settings and the parties are kept by the connection
// (kept.go); the operations changed since a rev are left to
// OperationsSince.

// prefetchOperations reads the operations whose IDs a JSON list holds,
// each looked up by the index on id.
const prefetchOperations = "SELECT o.id, o.seq, o.rev, o.t_start, o.t_end, o.doc FROM json_each(?) AS j JOIN operations AS o ON o.id = j.value"

// prefetch is what Prefetch was asked for and what was read of it.
type prefetch struct {
	ids     []string
	loaded  bool
	rows    map[string]*operationRow // as read; absent: the table had none
	written map[string]bool          // written since: read from the table
}

// operationRow is an operation's row, as storeval.OperationColumns reads it.
type operationRow struct {
	seq, rev, start, end int64
	doc                  string
}

// Scan gives the row's columns, as a storeval.Row.
func (r *operationRow) Scan(dest ...any) error {
	if len(dest) != 5 {
		return fmt.Errorf("scan an operation row into %d values", len(dest))
	}
	*dest[0].(*int64), *dest[1].(*int64), *dest[2].(*int64), *dest[3].(*int64) = r.seq, r.rev, r.start, r.end
	*dest[4].(*string) = r.doc
	return nil
}

// Prefetch notes the operations a batch is about to read (a write
// transaction's, of two or more).
func (t *tx) Prefetch(operationIDs []string, _ int64) {
	if t.kept == nil || len(operationIDs) < 2 {
		return
	}
	t.pre = &prefetch{ids: operationIDs}
}

// prefetchedOperation answers Operation for an ID Prefetch was given and
// the transaction has not written since.
func (t *tx) prefetchedOperation(ctx context.Context, id string) (*deconflict.Operation, bool, error) {
	p := t.pre
	if p == nil || p.written[id] || !slices.Contains(p.ids, id) {
		return nil, false, nil
	}
	if !p.loaded {
		if err := t.loadPrefetch(ctx, p); err != nil {
			t.pre = nil // each read asks the table, as without a prefetch
			return nil, false, nil
		}
	}
	r, ok := p.rows[id]
	if !ok {
		return nil, true, deconflict.Errorf(deconflict.ENotFound, "operation %q not found", id)
	}
	op, _, err := storeval.ScanOperation(r)
	if err != nil {
		return nil, true, fmt.Errorf("select operation %s: %w", id, err)
	}
	return op, true, nil
}

// loadPrefetch reads the operations p names.
func (t *tx) loadPrefetch(ctx context.Context, p *prefetch) error {
	ids, err := json.Marshal(p.ids)
	if err != nil {
		return err
	}
	rows, err := t.query(ctx, prefetchOperations, string(ids))
	if err != nil {
		return err
	}
	defer rows.Close()
	p.rows = make(map[string]*operationRow, len(p.ids))
	for rows.Next() {
		var id string
		var r operationRow
		if err := rows.Scan(&id, &r.seq, &r.rev, &r.start, &r.end, &r.doc); err != nil {
			return err
		}
		p.rows[id] = &r
	}
	if err := rows.Err(); err != nil {
		return err
	}
	p.loaded = true
	return nil
}

// wroteOperation notes that the transaction wrote operation id: a read of
// it asks the table from now on.
func (t *tx) wroteOperation(id string) {
	if p := t.pre; p != nil {
		if p.written == nil {
			p.written = map[string]bool{}
		}
		p.written[id] = true
	}
}
