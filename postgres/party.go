package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/storeval"
	"github.com/jackc/pgx/v5"
)

// CreateParty stores a new party; EExists if its ID is taken.
func (t *tx) CreateParty(ctx context.Context, p *deconflict.Party) error {
	keys, err := json.Marshal(nonNil(p.Keys))
	if err != nil {
		return fmt.Errorf("encode keys of party %s: %w", p.ID, err)
	}
	tag, err := t.exec(ctx, `INSERT INTO parties (id, name, created_at, keys) VALUES ($1, $2, $3, $4)
		ON CONFLICT DO NOTHING`, p.ID, p.Name, storeval.Micros(p.CreatedAt), string(keys))
	if err != nil {
		return fmt.Errorf("insert party %s: %w", p.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return deconflict.Errorf(deconflict.EExists, "party %q exists", p.ID)
	}
	return nil
}

// Party returns the party with the ID; ENotFound if there is none.
func (t *tx) Party(ctx context.Context, id string) (*deconflict.Party, error) {
	p, err := scanParty(t.queryRow(ctx, "SELECT id, name, created_at, keys FROM parties WHERE id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, deconflict.Errorf(deconflict.ENotFound, "party %q not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("select party %s: %w", id, err)
	}
	return p, nil
}

// Parties returns every party, in the order they were created.
func (t *tx) Parties(ctx context.Context) ([]*deconflict.Party, error) {
	ps, err := list(ctx, t, "SELECT id, name, created_at, keys FROM parties ORDER BY seq", nil, scanParty)
	if err != nil {
		return nil, fmt.Errorf("select parties: %w", err)
	}
	return ps, nil
}

func scanParty(s pgx.Row) (*deconflict.Party, error) {
	var p deconflict.Party
	var created int64
	var keys string
	if err := s.Scan(&p.ID, &p.Name, &created, &keys); err != nil {
		return nil, err
	}
	p.CreatedAt = storeval.FromMicros(created)
	if err := json.Unmarshal([]byte(keys), &p.Keys); err != nil {
		return nil, fmt.Errorf("decode keys of party %s: %w", p.ID, err)
	}
	if len(p.Keys) == 0 {
		p.Keys = nil
	}
	return &p, nil
}

// PutPartyKeys replaces the keys of a party; ENotFound if there is none.
func (t *tx) PutPartyKeys(ctx context.Context, id string, keys []string) error {
	b, err := json.Marshal(nonNil(keys))
	if err != nil {
		return fmt.Errorf("encode keys of party %s: %w", id, err)
	}
	tag, err := t.exec(ctx, "UPDATE parties SET keys = $1 WHERE id = $2", string(b), id)
	if err != nil {
		return fmt.Errorf("update keys of party %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return deconflict.Errorf(deconflict.ENotFound, "party %q not found", id)
	}
	return nil
}

// nonNil returns keys, or an empty list for nil, so that the column
// always holds a JSON list.
func nonNil(keys []string) []string {
	if keys == nil {
		return []string{}
	}
	return keys
}

const tokenColumns = "id, hash, role, party, label, created_at, revoked_at"

// CreateToken stores a new token; EExists if its ID or hash is taken.
func (t *tx) CreateToken(ctx context.Context, tok *deconflict.Token) error {
	tag, err := t.exec(ctx, `INSERT INTO tokens (`+tokenColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT DO NOTHING`,
		tok.ID, tok.Hash, string(tok.Role), tok.Party, tok.Label, storeval.Micros(tok.CreatedAt), nullMicros(tok.RevokedAt))
	if err != nil {
		return fmt.Errorf("insert token %s: %w", tok.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return deconflict.Errorf(deconflict.EExists, "token %q or its hash exists", tok.ID)
	}
	return nil
}

// TokenByHash returns the token with the hash; ENotFound if there is none.
func (t *tx) TokenByHash(ctx context.Context, hash []byte) (*deconflict.Token, error) {
	tok, err := scanToken(t.queryRow(ctx, "SELECT "+tokenColumns+" FROM tokens WHERE hash = $1", hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, deconflict.Errorf(deconflict.ENotFound, "token not found")
	} else if err != nil {
		return nil, fmt.Errorf("select token by hash: %w", err)
	}
	return tok, nil
}

// Tokens returns every token, revoked ones too, in the order they were
// created.
func (t *tx) Tokens(ctx context.Context) ([]*deconflict.Token, error) {
	toks, err := list(ctx, t, "SELECT "+tokenColumns+" FROM tokens ORDER BY seq", nil, scanToken)
	if err != nil {
		return nil, fmt.Errorf("select tokens: %w", err)
	}
	return toks, nil
}

// RevokeToken marks the token revoked at the time; ENotFound if there is
// none. A token revoked before keeps its first revocation time.
func (t *tx) RevokeToken(ctx context.Context, id string, at time.Time) error {
	tag, err := t.exec(ctx, "UPDATE tokens SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2", storeval.Micros(at), id)
	if err != nil {
		return fmt.Errorf("revoke token %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return deconflict.Errorf(deconflict.ENotFound, "token %q not found", id)
	}
	return nil
}

func scanToken(s pgx.Row) (*deconflict.Token, error) {
	var tok deconflict.Token
	var role string
	var created int64
	var revoked *int64
	if err := s.Scan(&tok.ID, &tok.Hash, &role, &tok.Party, &tok.Label, &created, &revoked); err != nil {
		return nil, err
	}
	tok.Role = deconflict.Role(role)
	tok.CreatedAt = storeval.FromMicros(created)
	tok.RevokedAt = fromNullMicros(revoked)
	return &tok, nil
}

// Settings returns the stored settings, or the default ones if none were
// ever stored.
func (t *tx) Settings(ctx context.Context) (deconflict.Settings, error) {
	var doc string
	err := t.queryRow(ctx, "SELECT doc FROM settings WHERE id = 1").Scan(&doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return deconflict.DefaultSettings(), nil
	} else if err != nil {
		return deconflict.Settings{}, fmt.Errorf("select settings: %w", err)
	}
	var s deconflict.Settings
	if err := json.Unmarshal([]byte(doc), &s); err != nil {
		return deconflict.Settings{}, fmt.Errorf("decode settings: %w", err)
	}
	return s, nil
}

// PutSettings stores the settings in place of the previous ones.
func (t *tx) PutSettings(ctx context.Context, s deconflict.Settings) error {
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
		return 0, fmt.Errorf("count revoked tokens: %w", err)
	}
	return n, nil
}
