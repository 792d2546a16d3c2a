package mechanism

import (
	"context"
	"sync"
	"time"

	dc "github.com/deconflict/deconflict"
)

// Looking a token up costs a read transaction, a large share of a small
// request. So valid tokens are remembered, by the hash of their secret,
// for tokenCacheTTL:
//
//   - a revocation through this mechanism empties the cache at once;
//   - a store that counts its revocations cheaply (dc.RevocationCounter:
//     the SQLite and PostgreSQL stores, with no transaction) is asked
//     before a cached token is trusted, and a change empties the cache, so
//     a revocation by another process (`deconflict token revoke` beside a
//     running server, or another replica) also takes effect at once;
//   - a store that can also tell cheaply whether anything at all was
//     committed since a mark (dc.CommitWatcher: SQLite, from its
//     wal-index) is asked that instead, and the count is read only when
//     the mark moved: while nothing commits, a request costs no read;
//   - with any other store a revocation by another process takes effect
//     within tokenCacheTTL, when the entry expires.
//
// Unknown and revoked tokens are never cached.
//
// A revocation pushed to the server instead (PostgreSQL LISTEN/NOTIFY)
// would arrive after the revocation committed, not with it: a request in
// between would be served with the revoked token. So PostgreSQL, which
// has no commit mark, is asked for the count on every request (requests
// arriving together share one read, revocationReads).

// tokenCacheTTL is how long a token is trusted without asking the store.
const tokenCacheTTL = time.Second

// maxCachedTokens bounds the cache; when full it is emptied.
const maxCachedTokens = 10000

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
	epoch uint64
	// The store's revocation count the entries agree with, from read
	// number gen, and the store's commit mark taken before that read
	// (if marked): while the store's mark is still the same, nothing
	// was committed since, so the count is still the same too.
	revoked int64
	gen     uint64
	mark    dc.CommitMark
	marked  bool
	reads   revocationReads
}

// check empties the cache if the store counts more revocations than
// when it was filled, and returns the epoch to pass to put.
func (c *tokenCache) check(ctx context.Context, store dc.Store) (uint64, error) {
	rc, ok := store.(dc.RevocationCounter)
	if !ok {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.epoch, nil
	}
	cw, _ := store.(dc.CommitWatcher)
	if cw != nil {
		if mark, ok := cw.CommitMark(); ok {
			c.mu.Lock()
			if c.marked && mark == c.mark {
				defer c.mu.Unlock()
				return c.epoch, nil // nothing committed since the count was read
			}
			c.mu.Unlock()
		}
	}
	f, err := c.reads.count(ctx, rc, cw)
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if f.gen <= c.gen {
		return c.epoch, nil // a later read is in force already
	}
	c.gen, c.mark, c.marked = f.gen, f.mark, f.marked
	if f.n != c.revoked {
		c.revoked = f.n
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

// lookup returns the actor of the token whose secret hashes to hash: from
// the cache, or else from find (a read of the store), whose answer is
// cached. store is asked for its revocation count first (check).
func (c *tokenCache) lookup(ctx context.Context, store dc.Store, hash [32]byte, find func() (dc.Actor, error)) (dc.Actor, error) {
	epoch, err := c.check(ctx, store)
	if err != nil {
		return dc.Actor{}, err
	}
	if a, ok := c.get(hash); ok {
		return a, nil
	}
	a, err := find()
	if err != nil {
		return dc.Actor{}, err
	}
	c.put(hash, a, epoch)
	return a, nil
}

// revocations returns the cache's epoch, which changes whenever it is
// emptied: whenever this process learns of a revocation.
func (c *tokenCache) revocations() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.epoch
}
