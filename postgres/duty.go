package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/storeval"
	"github.com/jackc/pgx/v5"
)

// The columns scanDuty reads, in its order.
const dutyColumns = "seq, id, subject_kind, subject_id, version, party, level, created_at, due_at, acked_at, raised_at, cleared_at"

// dutiesDueQuery selects the duties DutiesDue returns. It runs on the
// partial index duties_due, in its order.
const dutiesDueQuery = "SELECT " + dutyColumns + ` FROM duties
	WHERE acked_at IS NULL AND due_at <= $1 ORDER BY due_at, seq LIMIT $2`

// Duty returns the duty with the ID; ENotFound if there is none.
func (t *tx) Duty(ctx context.Context, id string) (*deconflict.Duty, error) {
	d, _, err := scanDuty(t.queryRow(ctx, "SELECT "+dutyColumns+" FROM duties WHERE id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, deconflict.Errorf(deconflict.ENotFound, "duty %q not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("select duty %s: %w", id, err)
	}
	return d, nil
}

// PutDuty inserts the duty or replaces the one with its ID, which keeps
// its place in lists. The statement goes with the next one (see later).
func (t *tx) PutDuty(ctx context.Context, d *deconflict.Duty) error {
	t.later("put duty "+d.ID, `INSERT INTO duties (id, subject_kind, subject_id, version, party, level,
			created_at, due_at, acked_at, raised_at, cleared_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (id) DO UPDATE SET subject_kind = excluded.subject_kind, subject_id = excluded.subject_id,
			version = excluded.version, party = excluded.party, level = excluded.level,
			created_at = excluded.created_at, due_at = excluded.due_at, acked_at = excluded.acked_at,
			raised_at = excluded.raised_at, cleared_at = excluded.cleared_at`,
		d.ID, d.Subject.Kind, d.Subject.ID, d.Version, d.Party, d.Level, storeval.Micros(d.CreatedAt),
		nullMicros(d.DueAt), nullMicros(d.AckedAt), nullMicros(d.RaisedAt), nullMicros(d.ClearedAt))
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
	var where strings.Builder
	var a args
	where.WriteString("seq > " + a.add(after))
	if f.Party != "" {
		where.WriteString(" AND party = " + a.add(f.Party))
	}
	if f.Subject != nil {
		where.WriteString(" AND subject_kind = " + a.add(f.Subject.Kind) + " AND subject_id = " + a.add(f.Subject.ID))
	}
	if f.Escalated {
		where.WriteString(" AND level >= " + a.add(deconflict.LevelHeads))
	}
	if f.Open {
		where.WriteString(" AND acked_at IS NULL")
	}
	// One more than the page, to know whether another page follows.
	q := "SELECT " + dutyColumns + " FROM duties WHERE " + where.String() + " ORDER BY seq LIMIT " + a.add(limit+1)
	return page(ctx, t, "duties", q, a, limit, 0, scanDuty)
}

// DutiesDue returns up to limit duties (1000 if limit is not positive) not
// acknowledged whose DueAt is at or before now, earliest DueAt first, then
// in the order they were first stored.
func (t *tx) DutiesDue(ctx context.Context, now time.Time, limit int) ([]*deconflict.Duty, error) {
	ds, err := list(ctx, t, dutiesDueQuery, []any{storeval.Micros(now), storeval.PageSize(limit)}, func(r pgx.Row) (*deconflict.Duty, error) {
		d, _, err := scanDuty(r)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("select due duties: %w", err)
	}
	return ds, nil
}

// scanDuty reads the dutyColumns of a row.
func scanDuty(s pgx.Row) (*deconflict.Duty, int64, error) {
	var d deconflict.Duty
	var seq, created int64
	var due, acked, raised, cleared *int64
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
