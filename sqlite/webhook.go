package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/storeval"
)

// The columns scanWebhook reads, in its order.
const webhookColumns = "party, name, url, events, secret, created_at, updated_at, delivery"

// Webhook returns the webhook of the party with the name, with its
// secret; ENotFound if there is none.
func (t *tx) Webhook(ctx context.Context, party, name string) (*deconflict.Webhook, error) {
	w, err := scanWebhook(t.queryRow(ctx, "SELECT "+webhookColumns+" FROM webhooks WHERE party = ? AND name = ?", party, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, deconflict.Errorf(deconflict.ENotFound, "webhook %q of party %q not found", name, party)
	} else if err != nil {
		return nil, fmt.Errorf("select webhook %s/%s: %w", party, name, err)
	}
	return w, nil
}

// PutWebhook inserts the webhook or replaces the one with its party and
// name, every field of it.
func (t *tx) PutWebhook(ctx context.Context, w *deconflict.Webhook) error {
	events, err := json.Marshal(w.Events)
	if err != nil {
		return fmt.Errorf("encode webhook %s/%s events: %w", w.Party, w.Name, err)
	}
	delivery, err := encodeDelivery(w.Delivery)
	if err != nil {
		return fmt.Errorf("encode webhook %s/%s delivery: %w", w.Party, w.Name, err)
	}
	if _, err := t.exec(ctx, `INSERT INTO webhooks (`+webhookColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (party, name) DO UPDATE SET url = excluded.url, events = excluded.events,
			secret = excluded.secret, created_at = excluded.created_at, updated_at = excluded.updated_at,
			delivery = excluded.delivery`,
		w.Party, w.Name, w.URL, string(events), w.Secret, storeval.Micros(w.CreatedAt), storeval.Micros(w.UpdatedAt), delivery); err != nil {
		return fmt.Errorf("put webhook %s/%s: %w", w.Party, w.Name, err)
	}
	return nil
}

// PutDelivery replaces the delivery state of a webhook and nothing else;
// ENotFound if there is no such webhook.
func (t *tx) PutDelivery(ctx context.Context, party, name string, d deconflict.Delivery) error {
	delivery, err := encodeDelivery(d)
	if err != nil {
		return fmt.Errorf("encode webhook %s/%s delivery: %w", party, name, err)
	}
	res, err := t.exec(ctx, "UPDATE webhooks SET delivery = ? WHERE party = ? AND name = ?", delivery, party, name)
	if err != nil {
		return fmt.Errorf("put webhook %s/%s delivery: %w", party, name, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("put webhook %s/%s delivery: %w", party, name, err)
	} else if n == 0 {
		return deconflict.Errorf(deconflict.ENotFound, "webhook %q of party %q not found", name, party)
	}
	return nil
}

// Webhooks returns the webhooks of the party (of every party if it is
// empty), with their secrets, ordered by party, then name.
func (t *tx) Webhooks(ctx context.Context, party string) ([]*deconflict.Webhook, error) {
	q := "SELECT " + webhookColumns + " FROM webhooks"
	var args []any
	if party != "" {
		q += " WHERE party = ?"
		args = append(args, party)
	}
	rows, err := t.query(ctx, q+" ORDER BY party, name", args...)
	if err != nil {
		return nil, fmt.Errorf("select webhooks: %w", err)
	}
	defer rows.Close()
	var ws []*deconflict.Webhook
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return nil, fmt.Errorf("select webhooks: %w", err)
		}
		ws = append(ws, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("select webhooks: %w", err)
	}
	return ws, nil
}

// DeleteWebhook removes the webhook of the party with the name; ENotFound
// if there is none.
func (t *tx) DeleteWebhook(ctx context.Context, party, name string) error {
	res, err := t.exec(ctx, "DELETE FROM webhooks WHERE party = ? AND name = ?", party, name)
	if err != nil {
		return fmt.Errorf("delete webhook %s/%s: %w", party, name, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("delete webhook %s/%s: %w", party, name, err)
	} else if n == 0 {
		return deconflict.Errorf(deconflict.ENotFound, "webhook %q of party %q not found", name, party)
	}
	return nil
}

// encodeDelivery returns the JSON of d, with its times as they read back.
func encodeDelivery(d deconflict.Delivery) (string, error) {
	d.LastAttempt = storeval.NormTimePtr(d.LastAttempt)
	d.NextAttempt = storeval.NormTimePtr(d.NextAttempt)
	d.FailingSince = storeval.NormTimePtr(d.FailingSince)
	b, err := json.Marshal(d)
	return string(b), err
}

// scanWebhook reads the webhookColumns of a row.
func scanWebhook(s scanner) (*deconflict.Webhook, error) {
	var w deconflict.Webhook
	var events, delivery string
	var created, updated int64
	if err := s.Scan(&w.Party, &w.Name, &w.URL, &events, &w.Secret, &created, &updated, &delivery); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(events), &w.Events); err != nil {
		return nil, fmt.Errorf("decode webhook %s/%s events: %w", w.Party, w.Name, err)
	}
	if err := json.Unmarshal([]byte(delivery), &w.Delivery); err != nil {
		return nil, fmt.Errorf("decode webhook %s/%s delivery: %w", w.Party, w.Name, err)
	}
	w.CreatedAt = storeval.FromMicros(created)
	w.UpdatedAt = storeval.FromMicros(updated)
	return &w, nil
}
