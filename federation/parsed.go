package federation

import (
	"sync"

	dc "github.com/deconflict/deconflict"
	"golang.org/x/mod/sumdb/tlog"
)

// maxParsed is the most parsed entries a link hands from its pull to its
// applier: about two pages, what the pull verifies ahead of the applier
// in steady replication. Beyond it (a catch-up far ahead of the
// applier), the applier reads the entries again from the store.
const maxParsed = 2 * pageLimit

// parsedEntries hands the entries the pull parsed, when it checked
// their canonical form before keeping them, to the applier, which would
// otherwise read each one's JSON again. An entry is found only under its
// index and leaf hash, so the applier never takes an event for other
// bytes than those it applies; anything missing is parsed again.
type parsedEntries struct {
	mu sync.Mutex
	by map[int64]parsedEntry
}

type parsedEntry struct {
	leaf  tlog.Hash
	event *dc.Event
}

// put keeps parsed entries, as far as there is room.
func (p *parsedEntries) put(es map[int64]parsedEntry) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.by == nil {
		p.by = map[int64]parsedEntry{}
	}
	for i, e := range es {
		if len(p.by) >= maxParsed {
			return
		}
		p.by[i] = e
	}
}

// take returns and forgets the parsed entry of index with leaf hash
// leaf, or nil.
func (p *parsedEntries) take(index int64, leaf tlog.Hash) *dc.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.by[index]
	if !ok {
		return nil
	}
	delete(p.by, index)
	if e.leaf != leaf {
		return nil
	}
	return e.event
}

// dropBelow forgets the entries before index (applied, or passed).
func (p *parsedEntries) dropBelow(index int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range p.by {
		if i < index {
			delete(p.by, i)
		}
	}
}
