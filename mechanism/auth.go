package mechanism

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"sync"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/google/uuid"
)

// tokenPrefix marks deconflict tokens, so that secret scanners find them.
const tokenPrefix = "dcf_"

// HashToken returns the hash under which a token secret is stored.
func HashToken(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// Authenticate returns the actor a bearer token stands for.
func (m *Mechanism) Authenticate(ctx context.Context, secret string) (dc.Actor, error) {
	if secret == "" {
		return dc.Actor{}, dc.Errorf(dc.EUnauthenticated, "missing bearer token")
	}
	if !strings.HasPrefix(secret, tokenPrefix) || len(secret) > 200 {
		return dc.Actor{}, dc.Errorf(dc.EUnauthenticated, "unknown or revoked token")
	}
	hash := sha256.Sum256([]byte(secret))
	epoch, err := m.tokens.check(ctx, m.raw)
	if err != nil {
		return dc.Actor{}, err
	}
	if a, ok := m.tokens.get(hash); ok {
		return a, nil
	}
	var tok *dc.Token
	err = m.store.View(ctx, func(tx dc.Tx) (err error) {
		tok, err = tx.TokenByHash(ctx, hash[:])
		return err
	})
	if dc.ErrorCode(err) == dc.ENotFound || (err == nil && tok.RevokedAt != nil) {
		return dc.Actor{}, dc.Errorf(dc.EUnauthenticated, "unknown or revoked token")
	} else if err != nil {
		return dc.Actor{}, err
	}
	a := dc.Actor{Party: tok.Party, Role: tok.Role, TokenID: tok.ID}
	m.tokens.put(hash, a, epoch)
	return a, nil
}

// Revocations returns a number that changes whenever this process learns
// that a token was revoked (by itself, or by another process at the next
// Authenticate). A long-lived request, such as an event stream, checks
// its token again when it changes.
func (m *Mechanism) Revocations() uint64 {
	m.tokens.mu.Lock()
	defer m.tokens.mu.Unlock()
	return m.tokens.epoch
}

// IssueToken creates a token for role (and party, for every role but
// admin) and returns its secret, which is not kept anywhere.
func (m *Mechanism) IssueToken(ctx context.Context, role dc.Role, party, label string) (string, *dc.Token, error) {
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
func (m *Mechanism) Tokens(ctx context.Context) (toks []*dc.Token, err error) {
	err = m.store.View(ctx, func(tx dc.Tx) error {
		toks, err = tx.Tokens(ctx)
		return err
	})
	return toks, err
}

// RevokeToken revokes the token with the given ID; it stops working at once.
func (m *Mechanism) RevokeToken(ctx context.Context, id string) error {
	err := m.store.Update(ctx, func(tx dc.Tx) error {
		return tx.RevokeToken(ctx, id, m.Now())
	})
	m.tokens.clear() // also after a failure: the revocation may have committed
	return err
}

// AddParty creates a party.
func (m *Mechanism) AddParty(ctx context.Context, id, name string) (*dc.Party, error) {
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
func (m *Mechanism) Parties(ctx context.Context) (ps []*dc.Party, err error) {
	err = m.store.View(ctx, func(tx dc.Tx) error {
		ps, err = tx.Parties(ctx)
		return err
	})
	return ps, err
}

// Looking a token up costs a read transaction, a large share of a small
// request. So valid tokens are remembered, by the hash of their secret,
// for tokenCacheTTL:
//
//   - a revocation through this mechanism empties the cache at once;
//   - a store that counts its revocations cheaply (RevocationCounter;
//     the SQLite store does, with no transaction) is asked on every
//     request, and a change empties the cache, so a revocation by another
//     process (`deconflict token revoke` beside a running server) also
//     takes effect at once;
//   - with any other store a revocation by another process takes effect
//     within tokenCacheTTL, when the entry expires.
//
// Unknown and revoked tokens are never cached.

// tokenCacheTTL is how long a token is trusted without asking the store.
const tokenCacheTTL = time.Second

// maxCachedTokens bounds the cache; when full it is emptied.
const maxCachedTokens = 10000

// RevocationCounter is an optional interface of a Store: the number of
// tokens ever revoked, read without a transaction. Tokens are never
// deleted and a revocation is final, so the number changes exactly when a
// token is revoked.
type RevocationCounter interface {
	RevokedTokens(ctx context.Context) (int64, error)
}

type tokenEntry struct {
	actor dc.Actor
	until time.Time
}

// tokenCache remembers the actors of valid tokens.
type tokenCache struct {
	mu      sync.Mutex
	entries map[[32]byte]tokenEntry
	// epoch changes whenever the cache is emptied: an entry read from the
	// store before that is not put in after it.
	epoch   uint64
	revoked int64 // the store's revocation count the entries agree with
}

// check empties the cache if the store counts more revocations than
// when it was filled, and returns the epoch to pass to put.
func (c *tokenCache) check(ctx context.Context, store dc.Store) (uint64, error) {
	rc, ok := store.(RevocationCounter)
	if !ok {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.epoch, nil
	}
	n, err := rc.RevokedTokens(ctx)
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if n != c.revoked {
		c.revoked = n
		c.entries = nil
		c.epoch++
	}
	return c.epoch, nil
}

// get returns the actor of a cached token.
func (c *tokenCache) get(hash [32]byte) (dc.Actor, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[hash]
	if !ok || !time.Now().Before(e.until) {
		return dc.Actor{}, false
	}
	return e.actor, true
}

// put caches a token read from the store after check returned epoch.
func (c *tokenCache) put(hash [32]byte, a dc.Actor, epoch uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if epoch != c.epoch {
		return // emptied since: the token may have been revoked meanwhile
	}
	if c.entries == nil || len(c.entries) >= maxCachedTokens {
		c.entries = map[[32]byte]tokenEntry{}
	}
	c.entries[hash] = tokenEntry{actor: a, until: time.Now().Add(tokenCacheTTL)}
}

// clear empties the cache.
func (c *tokenCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries = nil
	c.epoch++
}
