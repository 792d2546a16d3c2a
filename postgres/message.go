package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/storeval"
)

// PutMessage inserts the message or replaces the one with its ID, which
// keeps its place in lists, with its addressees anew.
func (t *tx) PutMessage(ctx context.Context, m *deconflict.Message) error {
	stored := *m
	stored.SentAt = storeval.NormTime(m.SentAt)
	stored.Acknowledged = storeval.NormTimeMap(m.Acknowledged)
	doc, err := json.Marshal(&stored)
	if err != nil {
		return fmt.Errorf("encode message %s: %w", m.ID, err)
	}
	to := m.To
	if to == nil {
		to = []string{}
	}
	if _, err := t.exec(ctx, `INSERT INTO messages (id, from_party, from_token, to_parties, doc)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET from_party = excluded.from_party, from_token = excluded.from_token,
			to_parties = excluded.to_parties, doc = excluded.doc`,
		m.ID, m.From.Party, m.From.TokenID, to, string(doc)); err != nil {
		return fmt.Errorf("put message %s: %w", m.ID, err)
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
	a := dialect.Args()
	where := "seq > " + a.Add(after)
	if f.Party != "" {
		p := a.Add(f.Party)
		where += " AND (from_party = " + p + " OR to_parties @> ARRAY[" + p + "::text])"
	}
	// One more than the page, to know whether another page follows.
	q := "SELECT " + storeval.MessageColumns + " FROM messages WHERE " + where + " ORDER BY seq LIMIT " + a.Add(limit+1)
	return storeval.Page(ctx, t.shared.Q, "messages", q, a.Values, limit, f.MaxBytes, storeval.ScanMessage)
}
