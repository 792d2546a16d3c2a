package sqlite

import (
	"context"
	"fmt"

	"github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/storeval"
)

// Tokens returns every token, revoked ones too, in the order they were
// created.
func (t *tx) Tokens(ctx context.Context) ([]*deconflict.Token, error) {
	toks, err := storeval.List(ctx, t.shared.Q, "SELECT "+storeval.TokenColumns+" FROM tokens ORDER BY seq", nil, storeval.ScanToken)
	if err != nil {
		return nil, fmt.Errorf("select tokens: %w", err)
	}
	return toks, nil
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
