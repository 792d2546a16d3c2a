package sqlite

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/storeval"
)

// dutiesDueQuery selects the duties DutiesDue returns. It runs on the
// index duties_due, in its order.
const dutiesDueQuery = "SELECT " + storeval.DutyColumns + ` FROM duties
	WHERE acked_at IS NULL AND due_at <= ? ORDER BY due_at, seq LIMIT ?`

// Duty returns the duty with the ID; ENotFound if there is none.
func (t *tx) Duty(ctx context.Context, id string) (*deconflict.Duty, error) {
	if err := t.flushDuties(ctx); err != nil {
		return nil, err
	}
	return t.shared.Duty(ctx, id)
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
	where, args := storeval.DutiesWhere(dialect, f, after)
	// One more than the page, to know whether another page follows.
	q := "SELECT " + storeval.DutyColumns + " FROM duties WHERE " + where + " ORDER BY seq LIMIT " + args.Add(limit+1)
	return storeval.Page(ctx, t.shared.Q, "duties", q, args.Values, limit, 0, storeval.ScanDuty)
}

// DutiesDue returns up to limit duties (1000 if limit is not positive) not
// acknowledged whose DueAt is at or before now, earliest DueAt first, then
// in the order they were first stored.
func (t *tx) DutiesDue(ctx context.Context, now time.Time, limit int) ([]*deconflict.Duty, error) {
	if err := t.flushDuties(ctx); err != nil {
		return nil, err
	}
	ds, err := storeval.List(ctx, t.shared.Q, dutiesDueQuery, []any{storeval.Micros(now), storeval.PageSize(limit)}, func(r storeval.Row) (*deconflict.Duty, error) {
		d, _, err := storeval.ScanDuty(r)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("select due duties: %w", err)
	}
	return ds, nil
}
