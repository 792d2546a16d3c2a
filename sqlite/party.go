package sqlite

import (
	"context"
	"fmt"

	"github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/storeval"
)

// CreateParty stores a new party; EExists if its ID is taken.
func (t *tx) CreateParty(ctx context.Context, p *deconflict.Party) error {
	t.changeKept()
	return t.shared.CreateParty(ctx, p)
}

// Parties returns every party, in the order they were created.
func (t *tx) Parties(ctx context.Context) ([]*deconflict.Party, error) {
	if ps, ok := t.keptParties(ctx); ok {
		return ps, nil
	}
	ps, err := storeval.List(ctx, t.shared.Q, "SELECT "+storeval.PartyColumns+" FROM parties ORDER BY rowid", nil, storeval.ScanParty)
	if err != nil {
		return nil, fmt.Errorf("select parties: %w", err)
	}
	t.keepParties(ctx, ps)
	return ps, nil
}

// PutPartyKeys replaces the keys of a party; ENotFound if there is none.
func (t *tx) PutPartyKeys(ctx context.Context, id string, keys []string) error {
	t.changeKept()
	return t.shared.PutPartyKeys(ctx, id, keys)
}
