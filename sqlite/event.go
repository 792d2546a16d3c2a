package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/storeval"
)

// AppendEvent stores the event under the next sequence number, which it
// sets in e.Seq: 1 for the first event, then one more each time.
func (t *tx) AppendEvent(ctx context.Context, e *deconflict.Event) error {
	audience, err := json.Marshal(e.Audience)
	if err != nil {
		return fmt.Errorf("encode event audience: %w", err)
	}
	var kind, id sql.NullString
	if e.Subject != nil {
		kind = sql.NullString{String: e.Subject.Kind, Valid: true}
		id = sql.NullString{String: e.Subject.ID, Valid: true}
	}
	var data any // NULL for nil
	if e.Data != nil {
		data = []byte(e.Data)
	}
	res, err := t.exec(ctx, `INSERT INTO events (type, time, actor_party, actor_role, actor_token,
			subject_kind, subject_id, audience, data)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.Type, storeval.Micros(e.Time), e.Actor.Party, string(e.Actor.Role), e.Actor.TokenID, kind, id, string(audience), data)
	if err != nil {
		return fmt.Errorf("insert event %s: %w", e.Type, err)
	}
	seq, err := res.LastInsertId()
	if err != nil {
		return fmt.Errorf("insert event %s: %w", e.Type, err)
	}
	e.Seq = seq
	t.tops.lastEvent, t.tops.appended = seq, true
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
		"seq > ? ORDER BY seq LIMIT ?", after, storeval.PageSize(limit))
}

// EventsExcept returns the events with Seq in (after, through], in
// order, but for those whose Seq is in skip, whose rows SQLite never
// reads: seq is the table's rowid, so the filter is decided on it alone.
func (t *tx) EventsExcept(ctx context.Context, after, through int64, skip []int64) ([]*deconflict.Event, error) {
	what := fmt.Sprintf("after %d through %d", after, through)
	if len(skip) == 0 {
		return t.selectEvents(ctx, what, 0, "seq > ? AND seq <= ? ORDER BY seq", after, through)
	}
	b := make([]byte, 0, 8*len(skip)+2)
	b = append(b, '[')
	for i, s := range skip {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, s, 10)
	}
	b = append(b, ']')
	return t.selectEvents(ctx, what, 0,
		"seq > ? AND seq <= ? AND seq NOT IN (SELECT value FROM json_each(?)) ORDER BY seq", after, through, string(b))
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
	if t.tops.lastEvent > 0 {
		return t.tops.lastEvent, nil // AUTOINCREMENT: the last appended is the highest
	}
	if seq, ok := t.keptTop(ctx, func(k *kept) (int64, bool) { return k.lastSeq, k.haveLastSeq }); ok {
		return seq, nil
	}
	var seq int64
	if err := t.queryRow(ctx, "SELECT coalesce(max(seq), 0) FROM events").Scan(&seq); err != nil {
		return 0, fmt.Errorf("select last event seq: %w", err)
	}
	t.tops.readLastSeq, t.tops.readLastSeqOK = seq, true
	return seq, nil
}
