package mechanism

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"

	dc "github.com/deconflict/deconflict"
	"github.com/google/uuid"
)

// Access is the part of the mechanism that says who may act: the parties,
// the bearer tokens that stand for a party's role (issued, listed,
// revoked, and turned into an actor by Authenticate), and the keys with
// which a party signs its acknowledgements. It is a view over the same
// Mechanism, kept as its own type so that surface can be read alone.
type Access struct{ m *Mechanism }

// Access returns the access view of m.
func (m *Mechanism) Access() Access { return Access{m: m} }

// tokenPrefix marks deconflict tokens, so that secret scanners find them.
const tokenPrefix = "dcf_"

// HashToken returns the hash under which a token secret is stored.
func HashToken(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// Authenticate returns the actor a bearer token stands for.
func (ac Access) Authenticate(ctx context.Context, secret string) (dc.Actor, error) {
	m := ac.m
	if secret == "" {
		return dc.Actor{}, dc.Errorf(dc.EUnauthenticated, "missing bearer token")
	}
	if !strings.HasPrefix(secret, tokenPrefix) || len(secret) > 200 {
		return dc.Actor{}, dc.Errorf(dc.EUnauthenticated, "unknown or revoked token")
	}
	// Hashed from a copy on the stack, and copied again for the read of
	// the store: a request whose token is cached allocates nothing here.
	var buf [200]byte
	hash := sha256.Sum256(append(buf[:0], secret...))
	return m.tokens.lookup(ctx, m.raw, hash, func() (dc.Actor, error) {
		var tok *dc.Token
		key := hash
		err := m.store.View(ctx, func(tx dc.Tx) (err error) {
			tok, err = tx.TokenByHash(ctx, key[:])
			return err
		})
		if dc.ErrorCode(err) == dc.ENotFound || (err == nil && tok.RevokedAt != nil) {
			return dc.Actor{}, dc.Errorf(dc.EUnauthenticated, "unknown or revoked token")
		} else if err != nil {
			return dc.Actor{}, err
		}
		return dc.Actor{Party: tok.Party, Role: tok.Role, TokenID: tok.ID}, nil
	})
}

// Revocations returns a number that changes whenever this process learns
// that a token was revoked (by itself, or by another process at the next
// Authenticate). A long-lived request, such as an event stream, checks
// its token again when it changes.
func (ac Access) Revocations() uint64 { return ac.m.tokens.revocations() }

// IssueToken creates a token for role (and party, for every role but
// admin) and returns its secret, which is not kept anywhere.
func (ac Access) IssueToken(ctx context.Context, role dc.Role, party, label string) (string, *dc.Token, error) {
	m := ac.m
	var buf [32]byte
	if _, err := rand.Read(buf[:]); err != nil {
		return "", nil, err
	}
	secret := tokenPrefix + base64.RawURLEncoding.EncodeToString(buf[:])
	tok := &dc.Token{
		ID:        uuid.NewString(),
		Hash:      HashToken(secret),
		Role:      role,
		Party:     party,
		Label:     label,
		CreatedAt: m.Now(),
	}
	if err := tok.Validate(); err != nil {
		return "", nil, err
	}
	err := m.store.Update(ctx, func(tx dc.Tx) error {
		if tok.Party != "" {
			if _, err := tx.Party(ctx, tok.Party); dc.ErrorCode(err) == dc.ENotFound {
				return dc.FieldErrorf(dc.ENotFound, "party", "no party %q", tok.Party)
			} else if err != nil {
				return err
			}
		}
		return tx.CreateToken(ctx, tok)
	})
	if err != nil {
		return "", nil, err
	}
	return secret, tok, nil
}

// Tokens lists every token (never their secrets).
func (ac Access) Tokens(ctx context.Context) (toks []*dc.Token, err error) {
	m := ac.m
	err = m.store.View(ctx, func(tx dc.Tx) error {
		toks, err = tx.Tokens(ctx)
		return err
	})
	return toks, err
}

// RevokeToken revokes the token with the given ID; it stops working at once.
func (ac Access) RevokeToken(ctx context.Context, id string) error {
	m := ac.m
	err := m.store.Update(ctx, func(tx dc.Tx) error {
		return tx.RevokeToken(ctx, id, m.Now())
	})
	m.tokens.clear() // also after a failure: the revocation may have committed
	return err
}

// AddParty creates a party.
func (ac Access) AddParty(ctx context.Context, id, name string) (*dc.Party, error) {
	m := ac.m
	p := &dc.Party{ID: id, Name: name, CreatedAt: m.Now()}
	if p.Name == "" {
		p.Name = id
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	err := m.store.Update(ctx, func(tx dc.Tx) error {
		if err := tx.CreateParty(ctx, p); err != nil {
			return err
		}
		return m.appendEvent(ctx, tx, &dc.Event{
			Type: dc.EventPartyAdded, Time: p.CreatedAt, Actor: dc.Actor{Role: dc.RoleAdmin},
			Subject: &dc.Subject{Kind: dc.SubjectParty, ID: p.ID},
		}, p)
	})
	if dc.ErrorCode(err) == dc.EExists {
		return nil, dc.FieldErrorf(dc.EExists, "id", "party %q exists already", id)
	}
	return p, err
}

// Parties lists every party.
func (ac Access) Parties(ctx context.Context) (ps []*dc.Party, err error) {
	m := ac.m
	err = m.store.View(ctx, func(tx dc.Tx) error {
		ps, err = tx.Parties(ctx)
		return err
	})
	return ps, err
}
