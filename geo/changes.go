package geo

// Changes are inserts and removals made to an index later, all at once
// (Apply). A batch of writes collects its own, so that the index takes its
// write lock once a batch, not once a write: a change waits for every
// search under way, and a search whose thread is descheduled while it
// holds the read lock keeps the single writer waiting. Until then, Amend
// gives the answers the index would give with the changes made.
type Changes struct {
	latest map[string]int // the position in list of each ID's last change
	list   []pending
}

// pending is one change: an insert of e filed under keys, with its hull,
// or the removal of e.id.
type pending struct {
	e       entry
	keys    []key
	hull    hull
	removed bool
}

// Insert adds the volumes of entry id, which belongs to group, replacing
// any entry with the same id, as Index.Insert does, once applied.
func (c *Changes) Insert(id, group string, vols []Volume) {
	e := entry{id: id, group: group, vols: toVols(vols)}
	c.add(pending{e: e, keys: keysOf(e.vols), hull: hullOf(e.vols)})
}

// Remove removes entry id, if there is one, once applied.
func (c *Changes) Remove(id string) {
	c.add(pending{e: entry{id: id}, removed: true})
}

func (c *Changes) add(p pending) {
	if c.latest == nil {
		c.latest = make(map[string]int)
	}
	c.latest[p.e.id] = len(c.list)
	c.list = append(c.list, p)
}

// Len returns the number of changes.
func (c *Changes) Len() int { return len(c.list) }

// Reset forgets every change.
func (c *Changes) Reset() {
	clear(c.latest)
	clear(c.list)
	c.list = c.list[:0]
}

// Amend returns what Conflicts(vols, m, excludeGroup) will answer once the
// changes are applied, given hits, its answer now: the entries changed
// are dropped from hits, and those inserted compared again.
func (c *Changes) Amend(hits []Hit, vols []Volume, m Minima, excludeGroup string) []Hit {
	return c.AmendPairs(hits, vols, PairMinima{Minima: m}, excludeGroup)
}

// AmendPairs is Amend for an answer of Index.ConflictsAtPairs under pm.
func (c *Changes) AmendPairs(hits []Hit, vols []Volume, pm PairMinima, excludeGroup string) []Hit {
	if len(c.list) == 0 {
		return hits
	}
	out := make([]Hit, 0, len(hits))
	for _, h := range hits {
		if _, changed := c.latest[h.ID]; !changed {
			out = append(out, h)
		}
	}
	var qs []vol
	m := pm.Bound()
	for _, i := range c.latest {
		p := &c.list[i]
		if p.removed || p.e.group == excludeGroup {
			continue
		}
		if qs == nil {
			qs = toVols(vols)
		}
		if !p.hull.nearAny(qs, m, horizontalLimit(m)) {
			continue
		}
		if sep, ok := compare(qs, p.e.vols, pm.Of(p.e.group)); ok {
			out = append(out, Hit{ID: p.e.id, Group: p.e.group, Separation: sep})
		}
	}
	sortHits(out)
	return out
}

// Apply makes the changes to the index, in the order they were made,
// under one write lock.
func (ix *Index) Apply(c *Changes) {
	if len(c.list) == 0 {
		return
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, p := range c.list {
		if p.removed {
			ix.removeID(p.e.id)
		} else {
			ix.insert(p.e, p.keys, p.hull)
		}
	}
}
