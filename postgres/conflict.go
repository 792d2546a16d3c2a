package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/storeval"
)

// ConflictsOf returns every conflict of the operation, in the order they
// were first stored.
func (t *tx) ConflictsOf(ctx context.Context, opID string) ([]*deconflict.Conflict, error) {
	cs, err := storeval.List(ctx, t.shared.Q, "SELECT seq, doc FROM conflicts WHERE op_lo = $1 OR op_hi = $1 ORDER BY seq",
		[]any{opID}, func(r storeval.Row) (*deconflict.Conflict, error) {
			c, _, err := storeval.ScanConflict(r)
			return c, err
		})
	if err != nil {
		return nil, fmt.Errorf("select conflicts of operation %s: %w", opID, err)
	}
	return cs, nil
}

// putConflictQuery inserts or replaces a conflict, unless another conflict
// holds its pair: then it changes no row. Checking in the statement, not
// by catching the unique violation, keeps the transaction usable, as
// PostgreSQL aborts a transaction on any error.
const putConflictQuery = `INSERT INTO conflicts (id, op_lo, op_hi, party1, party2, status, doc)
	SELECT $1, $2, $3, $4, $5, $6, $7
	WHERE NOT EXISTS (SELECT 1 FROM conflicts WHERE op_lo = $2 AND op_hi = $3 AND id <> $1)
	ON CONFLICT (id) DO UPDATE SET op_lo = excluded.op_lo, op_hi = excluded.op_hi,
		party1 = excluded.party1, party2 = excluded.party2, status = excluded.status, doc = excluded.doc`

// conflictRows inserts conflicts, or replaces those with their IDs; a
// conflict for a pair that has one under another ID violates the pair's
// unique index, which fails the transaction with EExists.
var conflictRows = func() *rowTable {
	t := newRowTable("conflicts", []string{"id text", "op_lo text", "op_hi text", "party1 text", "party2 text", "status text", "doc text"},
		`ON CONFLICT (id) DO UPDATE SET op_lo = excluded.op_lo, op_hi = excluded.op_hi,
		party1 = excluded.party1, party2 = excluded.party2, status = excluded.status, doc = excluded.doc`)
	t.failed = func(err error) error {
		if isUniqueViolation(err) {
			return deconflict.Errorf(deconflict.EExists, "a pair of operations would have two conflicts: %v", err)
		}
		return nil
	}
	return t
}()

// PutConflict inserts the conflict or replaces the one with its ID, which
// keeps its place in lists. A pair of operations has one conflict: putting
// a second one for the pair, under another ID, fails with EExists. In a
// batch under the write lock (one that prefetched), the row goes with the
// next statement together with the other rows queued (see laterRow), and
// such a second conflict fails the transaction with EExists there; so it
// would in the batch anyway, whose writes may not be refused half-way.
// Elsewhere the statement checks at once and the transaction goes on.
func (t *tx) PutConflict(ctx context.Context, c *deconflict.Conflict) error {
	doc, err := json.Marshal(storeval.StoredConflict(c))
	if err != nil {
		return fmt.Errorf("encode conflict %s: %w", c.ID, err)
	}
	lo, hi := storeval.Pair(c.Operations[0], c.Operations[1])
	if t.write && t.pre != nil && t.pre.loaded {
		t.laterRow("put conflict "+c.ID, conflictRows, c.ID, c.ID, lo, hi, c.Parties[0], c.Parties[1], string(c.Status), string(doc))
		return nil
	}
	tag, err := t.exec(ctx, putConflictQuery,
		c.ID, lo, hi, c.Parties[0], c.Parties[1], string(c.Status), string(doc))
	if isUniqueViolation(err) || err == nil && tag.RowsAffected() == 0 {
		return deconflict.Errorf(deconflict.EExists, "operations %q and %q have a conflict other than %q", lo, hi, c.ID)
	} else if err != nil {
		return fmt.Errorf("put conflict %s: %w", c.ID, err)
	}
	return nil
}

// CountConflicts returns the number of conflicts with the status, from the
// index conflicts_status alone (see deconflict.ConflictCounter).
func (t *tx) CountConflicts(ctx context.Context, status deconflict.ConflictStatus) (int64, error) {
	var n int64
	if err := t.queryRow(ctx, "SELECT count(*) FROM conflicts WHERE status = $1", string(status)).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s conflicts: %w", status, err)
	}
	return n, nil
}
