package mechanism

import (
	"bytes"
	"encoding/json"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	dc "github.com/deconflict/deconflict"
)

// A what-if check lists the live operations it would conflict with, each
// as the caller may see it. The index finds them in microseconds; reading
// each from the store and encoding it took many times longer. So the
// mechanism keeps, for live operations that checks have listed, the JSON
// of the operation as every other party sees it (dc.Operation.SharedView)
// — the only view a check ever shows, since a check never lists the
// caller's own party's operations.
//
// An entry is dropped whenever its operation changes in the index (after
// the change committed), and the whole cache whenever the index is
// replaced. A view read from the store is kept only if its shard saw no
// drop while it was read, so a view read before a change can never be
// kept after it.

// DefaultViewCacheBytes is how much JSON the view cache holds by default:
// about 200,000 operations of the load tool's scenarios.
const DefaultViewCacheBytes = 256 << 20

const viewShards = 64

// viewCache holds the shared views of live operations, encoded.
type viewCache struct {
	seed     maphash.Seed
	maxShard int64 // bytes a shard may hold
	shards   [viewShards]viewShard
	hits     atomic.Uint64
	misses   atomic.Uint64
}

type viewShard struct {
	mu sync.Mutex
	// epoch counts the drops in the shard: a view read from the store is
	// kept only if the epoch did not move while it was read.
	epoch uint64
	views map[string]*sharedView
	bytes int64
}

// sharedView is an operation as other parties see it, encoded.
type sharedView struct {
	party string
	json  []byte
}

func newViewCache(maxBytes int64) *viewCache {
	if maxBytes <= 0 {
		maxBytes = DefaultViewCacheBytes
	}
	return &viewCache{seed: maphash.MakeSeed(), maxShard: max(maxBytes/viewShards, 1)}
}

func (c *viewCache) shard(id string) *viewShard {
	return &c.shards[maphash.String(c.seed, id)%viewShards]
}

// get returns the view of operation id, if kept.
func (c *viewCache) get(id string) (*sharedView, bool) {
	s := c.shard(id)
	s.mu.Lock()
	v, ok := s.views[id]
	s.mu.Unlock()
	if ok {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
	return v, ok
}

// epoch returns the epoch of id's shard, to pass to put after reading the
// operation from the store.
func (c *viewCache) epoch(id string) uint64 {
	s := c.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.epoch
}

// put keeps the view of operation id, read after epoch returned epoch,
// unless the shard dropped anything since. A full shard first drops
// entries at random (Go's map order) until the view fits.
func (c *viewCache) put(id string, v *sharedView, epoch uint64) {
	s := c.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.epoch != epoch || int64(len(v.json)) > c.maxShard {
		return
	}
	if s.views == nil {
		s.views = map[string]*sharedView{}
	}
	if old, ok := s.views[id]; ok {
		s.bytes -= int64(len(old.json))
	}
	for k, old := range s.views {
		if s.bytes+int64(len(v.json)) <= c.maxShard {
			break
		}
		delete(s.views, k)
		s.bytes -= int64(len(old.json))
	}
	s.views[id] = v
	s.bytes += int64(len(v.json))
}

// drop forgets the view of operation id; called after every committed
// change of the operation.
func (c *viewCache) drop(id string) {
	s := c.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.epoch++
	if old, ok := s.views[id]; ok {
		delete(s.views, id)
		s.bytes -= int64(len(old.json))
	}
}

// clear forgets every view; called when the index is replaced.
func (c *viewCache) clear() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		s.epoch++
		s.views, s.bytes = nil, 0
		s.mu.Unlock()
	}
}

// encodeOperation encodes op as the HTTP layer does (encoding/json,
// without HTML escaping, no trailing newline).
func encodeOperation(op *dc.Operation) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(op); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// settingsTTL is how long a what-if check trusts the settings it last
// read. A change through this process, or a Wake from another replica,
// takes effect at once; the time bound covers a change by another process
// on SQLite, which sends no Wake.
const settingsTTL = time.Second

// settingsCache holds the settings in force for what-if checks.
type settingsCache struct {
	mu    sync.Mutex
	s     dc.Settings
	until time.Time
	// epoch counts the changes: settings read from the store are kept
	// only if none happened while they were read.
	epoch uint64
}

// get returns the settings if they are fresh, else the epoch to pass to
// put after reading them.
func (c *settingsCache) get() (dc.Settings, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.s, c.epoch, time.Now().Before(c.until)
}

// put keeps settings a check read after get returned epoch.
func (c *settingsCache) put(s dc.Settings, epoch uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if epoch == c.epoch {
		c.s, c.until = s, time.Now().Add(settingsTTL)
	}
}

// forget makes the next check read the settings from the store.
func (c *settingsCache) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	c.until = time.Time{}
}
