package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/storeval"
)

// dutiesDueQuery selects the duties DutiesDue returns. It runs on the
// partial index duties_due, in its order.
const dutiesDueQuery = "SELECT " + storeval.DutyColumns + ` FROM duties
	WHERE acked_at IS NULL AND due_at <= $1 ORDER BY due_at, seq LIMIT $2`

// dutyRows inserts duties, or replaces those with their IDs.
var dutyRows = newRowTable("duties", []string{"id text", "subject_kind text", "subject_id text", "version bigint",
	"party text", "level bigint", "created_at bigint", "due_at bigint", "acked_at bigint", "raised_at bigint", "cleared_at bigint"},
	`ON CONFLICT (id) DO UPDATE SET subject_kind = excluded.subject_kind, subject_id = excluded.subject_id,
		version = excluded.version, party = excluded.party, level = excluded.level,
		created_at = excluded.created_at, due_at = excluded.due_at, acked_at = excluded.acked_at,
		raised_at = excluded.raised_at, cleared_at = excluded.cleared_at`)

// PutDuty inserts the duty or replaces the one with its ID, which keeps
// its place in lists. The row goes with the next statement, together with
// the other rows queued (see laterRow).
func (t *tx) PutDuty(ctx context.Context, d *deconflict.Duty) error {
	t.laterRow("put duty "+d.ID, dutyRows, d.ID, d.ID, d.Subject.Kind, d.Subject.ID, int64(d.Version), d.Party, int64(d.Level),
		storeval.Micros(d.CreatedAt), nullMicros(d.DueAt), nullMicros(d.AckedAt), nullMicros(d.RaisedAt), nullMicros(d.ClearedAt))
	return nil
}

// Duties lists the duties that pass the filter, in the order they were
// first stored, a page at a time.
func (t *tx) Duties(ctx context.Context, f deconflict.DutyFilter) ([]*deconflict.Duty, string, error) {
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
	ds, err := storeval.List(ctx, t.shared.Q, dutiesDueQuery, []any{storeval.Micros(now), storeval.PageSize(limit)}, func(r storeval.Row) (*deconflict.Duty, error) {
		d, _, err := storeval.ScanDuty(r)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("select due duties: %w", err)
	}
	return ds, nil
}
