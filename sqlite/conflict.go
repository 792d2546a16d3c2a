package sqlite

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
	cs, err := t.conflicts(ctx, "SELECT seq, doc FROM conflicts WHERE op_lo = ? OR op_hi = ? ORDER BY seq", opID, opID)
	if err != nil {
		return nil, fmt.Errorf("select conflicts of operation %s: %w", opID, err)
	}
	return cs, nil
}

// PutConflict inserts the conflict or replaces the one with its ID, which
// keeps its place in lists. A pair of operations has one conflict: putting
// a second one for the pair, under another ID, fails with EExists.
func (t *tx) PutConflict(ctx context.Context, c *deconflict.Conflict) error {
	doc, err := json.Marshal(storeval.StoredConflict(c))
	if err != nil {
		return fmt.Errorf("encode conflict %s: %w", c.ID, err)
	}
	lo, hi := storeval.Pair(c.Operations[0], c.Operations[1])
	_, err = t.exec(ctx, `INSERT INTO conflicts (id, op_lo, op_hi, party1, party2, status, doc)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET op_lo = excluded.op_lo, op_hi = excluded.op_hi,
			party1 = excluded.party1, party2 = excluded.party2, status = excluded.status, doc = excluded.doc`,
		c.ID, lo, hi, c.Parties[0], c.Parties[1], string(c.Status), string(doc))
	if isConstraint(err) {
		return deconflict.Errorf(deconflict.EExists, "operations %q and %q have a conflict other than %q", lo, hi, c.ID)
	} else if err != nil {
		return fmt.Errorf("put conflict %s: %w", c.ID, err)
	}
	return nil
}

// conflicts runs a query of seq and doc.
func (t *tx) conflicts(ctx context.Context, q string, args ...any) ([]*deconflict.Conflict, error) {
	return storeval.List(ctx, t.shared.Q, q, args, func(r storeval.Row) (*deconflict.Conflict, error) {
		c, _, err := storeval.ScanConflict(r)
		return c, err
	})
}

// CountConflicts returns the number of conflicts with the status, from the
// index conflicts_status alone (see deconflict.ConflictCounter).
func (t *tx) CountConflicts(ctx context.Context, status deconflict.ConflictStatus) (int64, error) {
	var n int64
	if err := t.queryRow(ctx, "SELECT count(*) FROM conflicts WHERE status = ?", string(status)).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s conflicts: %w", status, err)
	}
	return n, nil
}
