package sqlite

import (
	"context"
	"fmt"

	"github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/storeval"
)

// Webhooks returns the webhooks of the party (of every party if it is
// empty), with their secrets, ordered by party, then name.
func (t *tx) Webhooks(ctx context.Context, party string) ([]*deconflict.Webhook, error) {
	q := "SELECT " + storeval.WebhookColumns + " FROM webhooks"
	var args []any
	if party != "" {
		q += " WHERE party = ?"
		args = append(args, party)
	}
	ws, err := storeval.List(ctx, t.shared.Q, q+" ORDER BY party, name", args, storeval.ScanWebhook)
	if err != nil {
		return nil, fmt.Errorf("select webhooks: %w", err)
	}
	return ws, nil
}
