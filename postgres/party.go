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

// CreateParty stores a new party; EExists if its ID is taken.
func (t *tx) CreateParty(ctx context.Context, p *deconflict.Party) error {
	t.forgetParties()
	return t.shared.CreateParty(ctx, p)
}

// Parties returns every party, in the order they were created.
func (t *tx) Parties(ctx context.Context) ([]*deconflict.Party, error) {
	if ps, ok, err := t.prefetchedParties(); ok {
		return ps, err
	}
	ps, err := storeval.List(ctx, t.shared.Q, "SELECT "+storeval.PartyColumns+" FROM parties ORDER BY seq", nil, storeval.ScanParty)
	if err != nil {
		return nil, fmt.Errorf("select parties: %w", err)
	}
	return ps, nil
}

// PutPartyKeys replaces the keys of a party; ENotFound if there is none.
func (t *tx) PutPartyKeys(ctx context.Context, id string, keys []string) error {
	t.forgetParties()
	return t.shared.PutPartyKeys(ctx, id, keys)
}

// Tokens returns every token, revoked ones too, in the order they were
// created.
func (t *tx) Tokens(ctx context.Context) ([]*deconflict.Token, error) {
	toks, err := storeval.List(ctx, t.shared.Q, "SELECT "+storeval.TokenColumns+" FROM tokens ORDER BY seq", nil, storeval.ScanToken)
	if err != nil {
		return nil, fmt.Errorf("select tokens: %w", err)
	}
	return toks, nil
}

// Settings returns the stored settings, or the default ones if none were
// ever stored.
func (t *tx) Settings(ctx context.Context) (deconflict.Settings, error) {
	if s, ok, err := t.prefetchedSettings(); ok {
		return s, err
	}
	var doc string
	err := t.queryRow(ctx, "SELECT doc FROM settings WHERE id = 1").Scan(&doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return deconflict.DefaultSettings(), nil
	} else if err != nil {
		return deconflict.Settings{}, fmt.Errorf("select settings: %w", err)
	}
	s := deconflict.DefaultSettings() // a setting added later takes its default
	if err := json.Unmarshal([]byte(doc), &s); err != nil {
		return deconflict.Settings{}, fmt.Errorf("decode settings: %w", err)
	}
	return s, nil
}

// PutSettings stores the settings in place of the previous ones.
func (t *tx) PutSettings(ctx context.Context, s deconflict.Settings) error {
	t.forgetSettings()
	doc, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode settings: %w", err)
	}
	if _, err := t.exec(ctx, `INSERT INTO settings (id, doc) VALUES (1, $1)
		ON CONFLICT (id) DO UPDATE SET doc = excluded.doc`, string(doc)); err != nil {
		return fmt.Errorf("update settings: %w", err)
	}
	return nil
}

// RevokedTokens returns the number of tokens ever revoked (kept by
// triggers: migration 0004), in one
// statement outside any transaction (deconflict.RevocationCounter): how a
// replica's token cache learns at once of a revocation made through
// another replica or the CLI.
func (db *DB) RevokedTokens(ctx context.Context) (int64, error) {
	var n int64
	if err := db.pool.QueryRow(ctx, "SELECT n FROM token_revocations WHERE id = 1").Scan(&n); err != nil {
		return 0, db.unavailable("count revoked tokens", fmt.Errorf("count revoked tokens: %w", err))
	}
	return n, nil
}
