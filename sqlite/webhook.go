package sqlite

import (
	"context"
	"fmt"

	"github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/storeval"
)

// Webhook returns the webhook of the party with the name, with its
// secret; ENotFound if there is none.
func (t *tx) Webhook(ctx context.Context, party, name string) (*deconflict.Webhook, error) {
	return t.shared().Webhook(ctx, party, name)
}

// PutWebhook inserts the webhook or replaces the one with its party and
// name, every field of it.
func (t *tx) PutWebhook(ctx context.Context, w *deconflict.Webhook) error {
	return t.shared().PutWebhook(ctx, w)
}

// PutDelivery replaces the delivery state of a webhook and nothing else;
// ENotFound if there is no such webhook.
func (t *tx) PutDelivery(ctx context.Context, party, name string, d deconflict.Delivery) error {
	return t.shared().PutDelivery(ctx, party, name, d)
}

// Webhooks returns the webhooks of the party (of every party if it is
// empty), with their secrets, ordered by party, then name.
func (t *tx) Webhooks(ctx context.Context, party string) ([]*deconflict.Webhook, error) {
	q := "SELECT " + storeval.WebhookColumns + " FROM webhooks"
	var args []any
	if party != "" {
		q += " WHERE party = ?"
		args = append(args, party)
	}
	ws, err := list(ctx, t, q+" ORDER BY party, name", args, storeval.ScanWebhook)
	if err != nil {
		return nil, fmt.Errorf("select webhooks: %w", err)
	}
	return ws, nil
}

// DeleteWebhook removes the webhook of the party with the name; ENotFound
// if there is none.
func (t *tx) DeleteWebhook(ctx context.Context, party, name string) error {
	return t.shared().DeleteWebhook(ctx, party, name)
}
