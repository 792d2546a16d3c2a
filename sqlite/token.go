package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/storeval"
)

const tokenColumns = "id, hash, role, party, label, created_at, revoked_at"

// CreateToken stores a new token; EExists if its ID or hash is taken.
func (t *tx) CreateToken(ctx context.Context, tok *deconflict.Token) error {
	res, err := t.exec(ctx, `INSERT INTO tokens (`+tokenColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`,
		tok.ID, tok.Hash, string(tok.Role), tok.Party, tok.Label, storeval.Micros(tok.CreatedAt), nullMicros(tok.RevokedAt))
	if err != nil {
		return fmt.Errorf("insert token %s: %w", tok.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("insert token %s: %w", tok.ID, err)
	} else if n == 0 {
		return deconflict.Errorf(deconflict.EExists, "token %q or its hash exists", tok.ID)
	}
	return nil
}

// TokenByHash returns the token with the hash; ENotFound if there is none.
func (t *tx) TokenByHash(ctx context.Context, hash []byte) (*deconflict.Token, error) {
	tok, err := scanToken(t.queryRow(ctx, "SELECT "+tokenColumns+" FROM tokens WHERE hash = ?", hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, deconflict.Errorf(deconflict.ENotFound, "token not found")
	} else if err != nil {
		return nil, fmt.Errorf("select token by hash: %w", err)
	}
	return tok, nil
}

// Tokens returns every token, revoked ones too, in the order they were
// created.
func (t *tx) Tokens(ctx context.Context) ([]*deconflict.Token, error) {
	rows, err := t.query(ctx, "SELECT "+tokenColumns+" FROM tokens ORDER BY seq")
	if err != nil {
		return nil, fmt.Errorf("select tokens: %w", err)
	}
	defer rows.Close()
	var toks []*deconflict.Token
	for rows.Next() {
		tok, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("select tokens: %w", err)
		}
		toks = append(toks, tok)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("select tokens: %w", err)
	}
	return toks, nil
}

// RevokeToken marks the token revoked at the time; ENotFound if there is
// none. A token revoked before keeps its first revocation time.
func (t *tx) RevokeToken(ctx context.Context, id string, at time.Time) error {
	res, err := t.exec(ctx, "UPDATE tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?", storeval.Micros(at), id)
	if err != nil {
		return fmt.Errorf("revoke token %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("revoke token %s: %w", id, err)
	} else if n == 0 {
		return deconflict.Errorf(deconflict.ENotFound, "token %q not found", id)
	}
	return nil
}

func scanToken(s scanner) (*deconflict.Token, error) {
	var tok deconflict.Token
	var role string
	var created int64
	var revoked sql.NullInt64
	if err := s.Scan(&tok.ID, &tok.Hash, &role, &tok.Party, &tok.Label, &created, &revoked); err != nil {
		return nil, err
	}
	tok.Role = deconflict.Role(role)
	tok.CreatedAt = storeval.FromMicros(created)
	tok.RevokedAt = fromNullMicros(revoked)
	return &tok, nil
}

// revokedTokensQuery reads the number of tokens ever revoked, which
// triggers keep (migration 0007).
const revokedTokensQuery = "SELECT n FROM token_revocations WHERE id = 1"

// RevokedTokens returns the number of tokens ever revoked, read without a
// transaction (deconflict.RevocationCounter): a cheap way for a token
// cache to learn of a revocation by another process.
func (db *DB) RevokedTokens(ctx context.Context) (int64, error) {
	var n int64
	s := db.readStmts.get(revokedTokensQuery)
	if s == nil {
		db.readStmts.add(ctx, []string{revokedTokensQuery})
		s = db.readStmts.get(revokedTokensQuery)
	}
	var err error
	if s != nil {
		err = s.QueryRowContext(ctx).Scan(&n)
	} else {
		err = db.read.QueryRowContext(ctx, revokedTokensQuery).Scan(&n)
	}
	if err != nil {
		return 0, fmt.Errorf("count revoked tokens: %w", err)
	}
	return n, nil
}
