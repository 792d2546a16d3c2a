package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/storeval"
)

// The columns scanDuty reads, in its order.
const dutyColumns = "seq, id, subject_kind, subject_id, version, party, level, created_at, due_at, acked_at, raised_at, cleared_at"

// dutiesDueQuery selects the duties DutiesDue returns. It runs on the
// index duties_due, in its order.
const dutiesDueQuery = "SELECT " + dutyColumns + ` FROM duties
	WHERE acked_at IS NULL AND due_at <= ? ORDER BY due_at, seq LIMIT ?`

// Duty returns the duty with the ID; ENotFound if there is none.
func (t *tx) Duty(ctx context.Context, id string) (*deconflict.Duty, error) {
	if err := t.flushDuties(ctx); err != nil {
		return nil, err
	}
	d, _, err := scanDuty(t.queryRow(ctx, "SELECT "+dutyColumns+" FROM duties WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, deconflict.Errorf(deconflict.ENotFound, "duty %q not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("select duty %s: %w", id, err)
	}
	return d, nil
}

// PutDuty inserts the duty or replaces the one with its ID, which keeps
// its place in lists. The write waits in the transaction until the next
// read of duties or the commit, and joins the others waiting in one
// multi-row statement: a declaration owes a duty to every other party,
// and a batch of declarations many.
func (t *tx) PutDuty(ctx context.Context, d *deconflict.Duty) error {
	c := *d
	t.duties = append(t.duties, &c)
	if len(t.duties) >= maxDutyRows {
		return t.flushDuties(ctx)
	}
	return nil
}

// maxDutyRows is the most duties one statement writes (11 parameters a
// row, below SQLite's limit of 32,766).
const maxDutyRows = 64

// putDutyQueries[n] writes n duties.
var putDutyQueries = func() (q [maxDutyRows + 1]string) {
	for n := 1; n <= maxDutyRows; n++ {
		q[n] = `INSERT INTO duties (id, subject_kind, subject_id, version, party, level,
			created_at, due_at, acked_at, raised_at, cleared_at)
		VALUES ` + strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?), ", n), ", ") + `
		ON CONFLICT (id) DO UPDATE SET subject_kind = excluded.subject_kind, subject_id = excluded.subject_id,
			version = excluded.version, party = excluded.party, level = excluded.level,
			created_at = excluded.created_at, due_at = excluded.due_at, acked_at = excluded.acked_at,
			raised_at = excluded.raised_at, cleared_at = excluded.cleared_at`
	}
	return q
}()

// flushDuties stores the duties PutDuty left waiting, in the order they
// were put (a later write of the same duty wins, as it would have).
func (t *tx) flushDuties(ctx context.Context) error {
	if len(t.duties) == 0 {
		return nil
	}
	ds := t.duties
	t.duties = nil
	args := make([]any, 0, 11*min(len(ds), maxDutyRows))
	for lo := 0; lo < len(ds); lo += maxDutyRows {
		chunk := ds[lo:min(lo+maxDutyRows, len(ds))]
		args = args[:0]
		for _, d := range chunk {
			args = append(args, d.ID, d.Subject.Kind, d.Subject.ID, d.Version, d.Party, d.Level, storeval.Micros(d.CreatedAt),
				nullMicros(d.DueAt), nullMicros(d.AckedAt), nullMicros(d.RaisedAt), nullMicros(d.ClearedAt))
		}
		if _, err := t.exec(ctx, putDutyQueries[len(chunk)], args...); err != nil {
			return t.fail(fmt.Errorf("put duties %s…: %w", chunk[0].ID, err))
		}
	}
	return nil
}

// Duties lists the duties that pass the filter, in the order they were
// first stored, a page at a time.
func (t *tx) Duties(ctx context.Context, f deconflict.DutyFilter) ([]*deconflict.Duty, string, error) {
	if err := t.flushDuties(ctx); err != nil {
		return nil, "", err
	}
	after, err := storeval.DecodeCursor(f.After)
	if err != nil {
		return nil, "", err
	}
	limit := storeval.PageSize(f.Limit)
	var where strings.Builder
	args := []any{after}
	where.WriteString("seq > ?")
	if f.Party != "" {
		where.WriteString(" AND party = ?")
		args = append(args, f.Party)
	}
	if f.Subject != nil {
		where.WriteString(" AND subject_kind = ? AND subject_id = ?")
		args = append(args, f.Subject.Kind, f.Subject.ID)
	}
	if f.Escalated {
		// A literal, so that the partial index duties_escalated serves.
		fmt.Fprintf(&where, " AND level >= %d", deconflict.LevelHeads)
	}
	if f.Open {
		where.WriteString(" AND acked_at IS NULL")
	}
	// One more than the page, to know whether another page follows.
	args = append(args, limit+1)
	return page(ctx, t, "duties", "SELECT "+dutyColumns+" FROM duties WHERE "+where.String()+" ORDER BY seq LIMIT ?", args, limit, 0, scanDuty)
}

// DutiesDue returns up to limit duties (1000 if limit is not positive) not
// acknowledged whose DueAt is at or before now, earliest DueAt first, then
// in the order they were first stored.
func (t *tx) DutiesDue(ctx context.Context, now time.Time, limit int) ([]*deconflict.Duty, error) {
	if err := t.flushDuties(ctx); err != nil {
		return nil, err
	}
	rows, err := t.query(ctx, dutiesDueQuery, storeval.Micros(now), storeval.PageSize(limit))
	if err != nil {
		return nil, fmt.Errorf("select due duties: %w", err)
	}
	defer rows.Close()
	var ds []*deconflict.Duty
	for rows.Next() {
		d, _, err := scanDuty(rows)
		if err != nil {
			return nil, fmt.Errorf("select due duties: %w", err)
		}
		ds = append(ds, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("select due duties: %w", err)
	}
	return ds, nil
}

// scanDuty reads the dutyColumns of a row.
func scanDuty(s scanner) (*deconflict.Duty, int64, error) {
	var d deconflict.Duty
	var seq, created int64
	var due, acked, raised, cleared sql.NullInt64
	if err := s.Scan(&seq, &d.ID, &d.Subject.Kind, &d.Subject.ID, &d.Version, &d.Party, &d.Level,
		&created, &due, &acked, &raised, &cleared); err != nil {
		return nil, 0, err
	}
	d.CreatedAt = storeval.FromMicros(created)
	d.DueAt = fromNullMicros(due)
	d.AckedAt = fromNullMicros(acked)
	d.RaisedAt = fromNullMicros(raised)
	d.ClearedAt = fromNullMicros(cleared)
	return &d, seq, nil
}
