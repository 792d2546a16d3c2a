package sqlite

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/storeval"
)

// sentByOrTo is the condition of Messages with a party, which it names
// twice.
const sentByOrTo = "(from_party = ? OR EXISTS (SELECT 1 FROM message_to WHERE message_to.party = ? AND message_to.seq = messages.seq))"

// PutMessage inserts the message or replaces the one with its ID, which
// keeps its place in lists, and records its addressees anew.
func (t *tx) PutMessage(ctx context.Context, m *deconflict.Message) error {
	stored := *m
	stored.SentAt = storeval.NormTime(m.SentAt)
	stored.Acknowledged = storeval.NormTimeMap(m.Acknowledged)
	doc, err := json.Marshal(&stored)
	if err != nil {
		return fmt.Errorf("encode message %s: %w", m.ID, err)
	}
	var seq int64
	if err := t.queryRow(ctx, `INSERT INTO messages (id, from_party, from_token, doc) VALUES (?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET from_party = excluded.from_party, from_token = excluded.from_token,
			doc = excluded.doc
		RETURNING seq`,
		m.ID, m.From.Party, m.From.TokenID, string(doc)).Scan(&seq); err != nil {
		return fmt.Errorf("put message %s: %w", m.ID, err)
	}
	if _, err := t.exec(ctx, "DELETE FROM message_to WHERE seq = ?", seq); err != nil {
		return fmt.Errorf("put message %s: %w", m.ID, err)
	}
	for _, p := range m.To {
		if _, err := t.exec(ctx, "INSERT INTO message_to (party, seq) VALUES (?, ?) ON CONFLICT DO NOTHING", p, seq); err != nil {
			return fmt.Errorf("put message %s: %w", m.ID, err)
		}
	}
	return nil
}

// Messages lists the messages sent by or to f.Party (all of them if it is
// empty), in the order they were first stored, a page at a time.
func (t *tx) Messages(ctx context.Context, f deconflict.MessageFilter) ([]*deconflict.Message, string, error) {
	after, err := storeval.DecodeCursor(f.After)
	if err != nil {
		return nil, "", err
	}
	limit := storeval.PageSize(f.Limit)
	where := "seq > ?"
	args := []any{after}
	if f.Party != "" {
		where += " AND " + sentByOrTo
		args = append(args, f.Party, f.Party)
	}
	// One more than the page, to know whether another page follows.
	args = append(args, limit+1)
	return storeval.Page(ctx, t.shared.Q, "messages", "SELECT "+storeval.MessageColumns+" FROM messages WHERE "+where+" ORDER BY seq LIMIT ?", args, limit, f.MaxBytes, storeval.ScanMessage)
}
