package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/storeval"
	"github.com/jackc/pgx/v5"
)

// Conflict returns the conflict with the ID; ENotFound if there is none.
func (t *tx) Conflict(ctx context.Context, id string) (*deconflict.Conflict, error) {
	c, _, err := scanConflict(t.queryRow(ctx, "SELECT seq, doc FROM conflicts WHERE id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, deconflict.Errorf(deconflict.ENotFound, "conflict %q not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("select conflict %s: %w", id, err)
	}
	return c, nil
}

// ConflictByPair returns the conflict of two operations, named in either
// order; ENotFound if there is none.
func (t *tx) ConflictByPair(ctx context.Context, op1, op2 string) (*deconflict.Conflict, error) {
	lo, hi := pair(op1, op2)
	c, _, err := scanConflict(t.queryRow(ctx, "SELECT seq, doc FROM conflicts WHERE op_lo = $1 AND op_hi = $2", lo, hi))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, deconflict.Errorf(deconflict.ENotFound, "no conflict of operations %q and %q", op1, op2)
	} else if err != nil {
		return nil, fmt.Errorf("select conflict of %s and %s: %w", op1, op2, err)
	}
	return c, nil
}

// ConflictsOf returns every conflict of the operation, in the order they
// were first stored.
func (t *tx) ConflictsOf(ctx context.Context, opID string) ([]*deconflict.Conflict, error) {
	cs, err := list(ctx, t, "SELECT seq, doc FROM conflicts WHERE op_lo = $1 OR op_hi = $1 ORDER BY seq",
		[]any{opID}, func(r pgx.Row) (*deconflict.Conflict, error) {
			c, _, err := scanConflict(r)
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

// PutConflict inserts the conflict or replaces the one with its ID, which
// keeps its place in lists. A pair of operations has one conflict: putting
// a second one for the pair, under another ID, fails with EExists.
func (t *tx) PutConflict(ctx context.Context, c *deconflict.Conflict) error {
	doc, err := json.Marshal(storedConflict(c))
	if err != nil {
		return fmt.Errorf("encode conflict %s: %w", c.ID, err)
	}
	lo, hi := pair(c.Operations[0], c.Operations[1])
	tag, err := t.exec(ctx, putConflictQuery,
		c.ID, lo, hi, c.Parties[0], c.Parties[1], string(c.Status), string(doc))
	if isUniqueViolation(err) || err == nil && tag.RowsAffected() == 0 {
		return deconflict.Errorf(deconflict.EExists, "operations %q and %q have a conflict other than %q", lo, hi, c.ID)
	} else if err != nil {
		return fmt.Errorf("put conflict %s: %w", c.ID, err)
	}
	return nil
}

// Conflicts lists the conflicts that pass the filter, in the order they
// were first stored, a page at a time.
func (t *tx) Conflicts(ctx context.Context, f deconflict.ConflictFilter) ([]*deconflict.Conflict, string, error) {
	after, err := storeval.DecodeCursor(f.After)
	if err != nil {
		return nil, "", err
	}
	limit := storeval.PageSize(f.Limit)
	var where strings.Builder
	var a args
	where.WriteString("seq > " + a.add(after))
	if f.Party != "" {
		p := a.add(f.Party)
		where.WriteString(" AND (party1 = " + p + " OR party2 = " + p + ")")
	}
	if len(f.Statuses) > 0 {
		statuses := make([]string, len(f.Statuses))
		for i, s := range f.Statuses {
			statuses[i] = string(s)
		}
		where.WriteString(" AND status = ANY(" + a.add(statuses) + ")")
	}
	// One more than the page, to know whether another page follows.
	q := "SELECT seq, doc FROM conflicts WHERE " + where.String() + " ORDER BY seq LIMIT " + a.add(limit+1)
	return page(ctx, t, "conflicts", q, a, limit, f.MaxBytes, scanConflict)
}

// pair returns the two operation IDs in sorted order.
func pair(op1, op2 string) (lo, hi string) {
	if op2 < op1 {
		return op2, op1
	}
	return op1, op2
}

// storedConflict returns a copy of c with its times as they read back.
func storedConflict(c *deconflict.Conflict) *deconflict.Conflict {
	s := *c
	s.DetectedAt = storeval.NormTime(c.DetectedAt)
	s.ClosedAt = storeval.NormTimePtr(c.ClosedAt)
	s.UpdatedAt = storeval.NormTime(c.UpdatedAt)
	s.Acknowledged = storeval.NormTimeMap(c.Acknowledged)
	s.Waived = storeval.NormTimeMap(c.Waived)
	return &s
}

// scanConflict reads the seq and doc of a row.
func scanConflict(s pgx.Row) (*deconflict.Conflict, int64, error) {
	var seq int64
	var doc string
	if err := s.Scan(&seq, &doc); err != nil {
		return nil, 0, err
	}
	var c deconflict.Conflict
	if err := json.Unmarshal([]byte(doc), &c); err != nil {
		return nil, 0, fmt.Errorf("decode conflict: %w", err)
	}
	return &c, seq, nil
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
