package postgres

import (
	"context"
	"fmt"

	"github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/storeval"
)

// Webhooks returns the webhooks of the party (of every party if it is
// empty), with their secrets, ordered by party, then name, bytewise (the
// columns are COLLATE "C").
func (t *tx) Webhooks(ctx context.Context, party string) ([]*deconflict.Webhook, error) {
	ws, err := storeval.List(ctx, t.shared.Q, "SELECT "+storeval.WebhookColumns+" FROM webhooks WHERE $1 = '' OR party = $1 ORDER BY party, name",
		[]any{party}, storeval.ScanWebhook)
	if err != nil {
		return nil, fmt.Errorf("select webhooks: %w", err)
	}
	return ws, nil
}
