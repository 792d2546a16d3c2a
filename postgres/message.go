package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/storeval"
	"github.com/jackc/pgx/v5"
)

// The columns scanMessage reads, in its order.
const messageColumns = "seq, from_token, doc"

// Message returns the hotline message with the ID; ENotFound if there is
// none.
func (t *tx) Message(ctx context.Context, id string) (*deconflict.Message, error) {
	m, _, err := scanMessage(t.queryRow(ctx, "SELECT "+messageColumns+" FROM messages WHERE id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, deconflict.Errorf(deconflict.ENotFound, "message %q not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("select message %s: %w", id, err)
	}
	return m, nil
}

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
	var a args
	where := "seq > " + a.add(after)
	if f.Party != "" {
		p := a.add(f.Party)
		where += " AND (from_party = " + p + " OR to_parties @> ARRAY[" + p + "::text])"
	}
	// One more than the page, to know whether another page follows.
	q := "SELECT " + messageColumns + " FROM messages WHERE " + where + " ORDER BY seq LIMIT " + a.add(limit+1)
	return page(ctx, t, "messages", q, a, limit, f.MaxBytes, scanMessage)
}

// scanMessage reads the messageColumns of a row.
func scanMessage(s pgx.Row) (*deconflict.Message, int64, error) {
	var seq int64
	var token, doc string
	if err := s.Scan(&seq, &token, &doc); err != nil {
		return nil, 0, err
	}
	var m deconflict.Message
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		return nil, 0, fmt.Errorf("decode message: %w", err)
	}
	m.From.TokenID = token
	return &m, seq, nil
}
