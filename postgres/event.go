package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/storeval"
)

// eventRows stores events under the seqs AppendEvent gives them: the one
// after the highest. Under the write lock no other transaction appends,
// so the seqs run 1, 2, 3… without gaps, also after a rollback (a
// sequence would lose the values of rolled-back transactions).
var eventRows = newRowTable("events", []string{"seq bigint", "type text", "time bigint", "actor_party text",
	"actor_role text", "actor_token text", "subject_kind text", "subject_id text", "audience text", "data bytea"}, "")

// AppendEvent stores the event under the next sequence number, which it
// sets in e.Seq: 1 for the first event, then one more each time. It must
// run in Update, which holds the write lock. The highest seq is read once
// a transaction; the insert itself goes with the next statement.
func (t *tx) AppendEvent(ctx context.Context, e *deconflict.Event) error {
	audience, err := json.Marshal(e.Audience)
	if err != nil {
		return fmt.Errorf("encode event audience: %w", err)
	}
	var kind, id *string
	if e.Subject != nil {
		kind, id = &e.Subject.Kind, &e.Subject.ID
	}
	var data []byte // NULL for nil
	if e.Data != nil {
		data = []byte(e.Data)
	}
	if _, err := t.LastSeq(ctx); err != nil { // sets nextSeq
		return fmt.Errorf("insert event %s: %w", e.Type, err)
	}
	seq := t.nextSeq
	t.laterRow("insert event "+e.Type, eventRows, "",
		seq, e.Type, storeval.Micros(e.Time), e.Actor.Party, string(e.Actor.Role), e.Actor.TokenID, kind, id, string(audience), data)
	t.nextSeq++
	e.Seq = seq
	t.lastSeq = seq
	return nil
}

// Events returns up to limit events (1000 if limit is not positive) with
// Seq greater than after, in order.
func (t *tx) Events(ctx context.Context, after int64, limit int) ([]*deconflict.Event, error) {
	return t.EventsWithin(ctx, after, limit, 0)
}

// EventsWithin is Events, ending early once the events' Data pass
// maxBytes (0: no bound).
func (t *tx) EventsWithin(ctx context.Context, after int64, limit, maxBytes int) ([]*deconflict.Event, error) {
	return t.selectEvents(ctx, fmt.Sprintf("after %d", after), maxBytes,
		"seq > $1 ORDER BY seq LIMIT $2", after, storeval.PageSize(limit))
}

// EventsExcept returns the events with Seq in (after, through], in
// order, but for those whose Seq is in skip: the filter is decided on
// the seq alone, so the rows skipped are never sent or decoded.
func (t *tx) EventsExcept(ctx context.Context, after, through int64, skip []int64) ([]*deconflict.Event, error) {
	if skip == nil {
		skip = []int64{}
	}
	return t.selectEvents(ctx, fmt.Sprintf("after %d through %d", after, through), 0,
		"seq > $1 AND seq <= $2 AND seq <> ALL($3::bigint[]) ORDER BY seq", after, through, skip)
}

// selectEvents returns the events of the rows where (and what follows
// it) selects, up to maxBytes of Data as storeval.ScanEvents reads them;
// what names them in an error.
func (t *tx) selectEvents(ctx context.Context, what string, maxBytes int, where string, args ...any) ([]*deconflict.Event, error) {
	rows, err := t.query(ctx, "SELECT "+storeval.EventColumns+" FROM events WHERE "+where, args...)
	if err != nil {
		return nil, fmt.Errorf("select events %s: %w", what, err)
	}
	defer rows.Close()
	es, err := storeval.ScanEvents(rows, maxBytes)
	if err != nil {
		return nil, fmt.Errorf("select events %s: %w", what, err)
	}
	return es, nil
}

// LastSeq returns the highest event sequence number, 0 if there are no
// events.
func (t *tx) LastSeq(ctx context.Context) (int64, error) {
	if t.nextSeq > 0 {
		return t.nextSeq - 1, nil
	}
	var seq int64
	if err := t.queryRow(ctx, "SELECT coalesce(max(seq), 0) FROM events").Scan(&seq); err != nil {
		return 0, fmt.Errorf("select last event seq: %w", err)
	}
	if t.write {
		t.nextSeq = seq + 1 // under the write lock, only this transaction appends
	}
	return seq, nil
}
