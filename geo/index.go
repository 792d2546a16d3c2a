package geo

import (
	"cmp"
	"math"
	"slices"
	"sync"

	"github.com/golang/geo/s1"
	"github.com/golang/geo/s2"
)

// Index holds the volumes of many operations and finds those that conflict
// with given volumes without looking at every one. Its answers are exactly
// those of CompareOperations against every entry. It is safe for
// concurrent use: queries share a read lock, changes take a write lock.
type Index struct {
	mu      sync.RWMutex
	buckets map[uint32]*bucket // by bucketKey
	entries []entry            // by slot
	hulls   []hull             // by slot
	free    []uint32
	slots   map[string]uint32
	perTime [timeLevels]int // items by time level
	// gen counts the changes (an insert, a removal) made to the index;
	// journal[i] is the ID of the entry that change journalGen+i+1
	// changed, for the last few changes (see Since).
	gen        uint64
	journal    []string
	journalGen uint64
}

// journalMax bounds the changes an index remembers for Since.
const journalMax = 4096

type entry struct {
	id, group string
	vols      []vol
}

// hull bounds the times, altitudes and footprints of an entry's volumes,
// so that most candidates are rejected without following pointers.
type hull struct {
	start, end, lower, upper float64
	center                   s2.Point
	radius                   s1.Angle
}

func hullOf(vols []vol) hull {
	h := hull{start: math.Inf(1), end: math.Inf(-1), lower: math.Inf(1), upper: math.Inf(-1)}
	var sum s2.Point
	for _, v := range vols {
		h.start, h.end = min(h.start, v.start), max(h.end, v.end)
		h.lower, h.upper = min(h.lower, v.lower), max(h.upper, v.upper)
		sum.Vector = sum.Add(v.fp.bound.Center().Vector)
	}
	if sum.Norm() < 1e-6 {
		h.center, h.radius = s2.Point{Vector: northPole}, math.Pi
		return h
	}
	h.center = s2.Point{Vector: sum.Normalize()}
	for _, v := range vols {
		h.radius = max(h.radius, h.center.Distance(v.fp.bound.Center())+v.fp.boundR+capSlack)
	}
	return h
}

// near reports whether a volume may conflict under m with a volume in the
// hull: its gaps to the hull are no larger than those to any volume in
// it. limit is horizontalLimit(m).
func (h *hull) near(q *vol, m Minima, limit s1.Angle) bool {
	return max(q.start, h.start)-min(q.end, h.end) < m.TimeS &&
		max(q.lower, h.lower)-min(q.upper, h.upper) < m.VerticalM &&
		below(q.fp.bound.Center(), h.center)-(q.fp.boundR+h.radius) < limit
}

// nearAny reports whether any of the volumes qs may conflict under m with
// a volume in the hull. limit is horizontalLimit(m).
func (h *hull) nearAny(qs []vol, m Minima, limit s1.Angle) bool {
	for i := range qs {
		if h.near(&qs[i], m, limit) {
			return true
		}
	}
	return false
}

// bucket holds the items of one time bucket: itemKey(cell, slot), sorted,
// and how many there are at each cell level, so that queries look up
// ancestors only at levels in use.
type bucket struct {
	items  keySet
	levels [maxEntryLevel + 1]int32
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{buckets: make(map[uint32]*bucket), slots: make(map[string]uint32)}
}

// Len returns the number of entries.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.slots)
}

// Insert adds the volumes of entry id, which belongs to group (a party),
// replacing any entry with the same id.
func (ix *Index) Insert(id, group string, vols []Volume) {
	e := entry{id: id, group: group, vols: toVols(vols)}
	keys, h := keysOf(e.vols), hullOf(e.vols)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.insert(e, keys, h)
}

// insert adds entry e, filed under keys (keysOf(e.vols)), with its hull
// h, replacing any entry with its id. It is called with the write lock
// held.
func (ix *Index) insert(e entry, keys []key, h hull) {
	if slot, ok := ix.slots[e.id]; ok {
		ix.remove(slot)
	}
	var slot uint32
	if n := len(ix.free); n > 0 {
		slot, ix.free = ix.free[n-1], ix.free[:n-1]
		ix.entries[slot], ix.hulls[slot] = e, h
	} else {
		slot = uint32(len(ix.entries))
		ix.entries, ix.hulls = append(ix.entries, e), append(ix.hulls, h)
	}
	ix.slots[e.id] = slot
	ix.changed(e.id)
	for _, k := range keys {
		b := ix.buckets[k.bucket]
		if b == nil {
			b = &bucket{}
			ix.buckets[k.bucket] = b
		}
		b.items.insert(itemKey(k.cell, slot))
		b.levels[k.cell.Level()]++
		ix.perTime[k.bucket>>bucketBits]++
	}
}

// Remove removes entry id, if there is one.
func (ix *Index) Remove(id string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.removeID(id)
}

// removeID removes entry id, if there is one. It is called with the write
// lock held.
func (ix *Index) removeID(id string) {
	if slot, ok := ix.slots[id]; ok {
		ix.remove(slot)
		ix.changed(id)
	}
}

// changed records a change to entry id in the journal.
func (ix *Index) changed(id string) {
	if len(ix.journal) == journalMax {
		n := copy(ix.journal, ix.journal[journalMax/2:])
		clear(ix.journal[n:])
		ix.journal = ix.journal[:n]
		ix.journalGen += journalMax / 2
	}
	ix.journal = append(ix.journal, id)
	ix.gen++
}

func (ix *Index) remove(slot uint32) {
	e := &ix.entries[slot]
	for _, k := range keysOf(e.vols) {
		b := ix.buckets[k.bucket]
		if !b.items.delete(itemKey(k.cell, slot)) {
			panic("geo: index lost an item")
		}
		b.levels[k.cell.Level()]--
		ix.perTime[k.bucket>>bucketBits]--
		if b.items.len() == 0 {
			delete(ix.buckets, k.bucket)
		}
	}
	delete(ix.slots, e.id)
	*e, ix.hulls[slot] = entry{}, hullOf(nil)
	ix.free = append(ix.free, slot)
}

type key struct {
	bucket uint32
	cell   s2.CellID
}

// keysOf returns the distinct keys under which volumes are filed.
func keysOf(vols []vol) []key {
	var out []key
	for i := range vols {
		v := &vols[i]
		k, lo, hi := timeSpan(v.start, v.end)
		for _, c := range entryCells(v.fp) {
			for b := lo; b <= hi; b++ {
				out = append(out, key{bucket: bucketKey(k, b), cell: c})
			}
		}
	}
	slices.SortFunc(out, func(a, b key) int {
		return cmp.Or(cmp.Compare(a.bucket, b.bucket), cmp.Compare(a.cell, b.cell))
	})
	return slices.Compact(out)
}

// scan visits the items of the bucket under the lookups of a search
// (appendLookups), which come in the order of their first keys, from
// position (i, j) on: that of the first key at or after the first
// lookup's first key (seekAll). The lookups of a query lie close
// together, most with no key between one and the next: each seek
// gallops on from where the one before it found its first key.
func (b *bucket) scan(lookups []lookup, i, j int, s *search) {
	set := &b.items
	if i >= len(set.chunks) {
		return
	}
	for _, lk := range lookups {
		if lk.level >= 0 && b.levels[lk.level] == 0 {
			continue
		}
		if c := set.chunks[i]; c[len(c)-1] >= lk.from {
			j = gallopKeys(c, j, lk.from)
		} else {
			// Past chunk i: in the last later chunk whose first key is
			// at most from, or the one after i.
			i += 1 + max(searchKeys(set.firsts[i+1:], lk.from+1)-1, 0)
			if i == len(set.chunks) {
				return // no key at or after from
			}
			j = searchKeys(set.chunks[i], lk.from)
		}
		b.visit(i, j, lk.to, s)
	}
}

// seekAll finds in each bucket of bs the position (at[k], in chunk
// chunks[k]) of the first key at or after from; a bucket with no such
// key, or none at all, gets a chunk past its last. The binary searches
// of the buckets go step by step together, so that the reads from
// memory of one overlap those of the others rather than wait for them.
func seekAll(bs []*bucket, from uint64, chunks, at []int, keys [][]uint64) {
	for k, b := range bs {
		keys[k] = b.items.firsts
	}
	searchAll(keys, from+1, chunks) // the chunks whose first key is at most from
	for k, b := range bs {
		keys[k] = nil
		if len(b.items.chunks) > 0 {
			chunks[k] = max(chunks[k]-1, 0)
			keys[k] = b.items.chunks[chunks[k]]
		}
	}
	searchAll(keys, from, at)
	for k, b := range bs {
		keys[k] = nil
		if len(b.items.chunks) > 0 && at[k] == len(b.items.chunks[chunks[k]]) {
			// Every key of the chunk is below from: the next chunk's
			// first is the first at or after it, if there is a next.
			chunks[k], at[k] = chunks[k]+1, 0
		}
	}
}

// visit passes the items from position (i, j) on whose keys are at most
// to to s.see.
func (b *bucket) visit(i, j int, to uint64, s *search) {
	set := &b.items
	for ; i < len(set.chunks); i, j = i+1, 0 {
		for _, k := range set.chunks[i][j:] {
			if k > to {
				return
			}
			s.see(k)
		}
	}
}

// lookup is a range of item keys a search visits in each bucket: the
// items of a query cell and its descendants (level -1), or those of one
// of its ancestors, of that level, which a bucket with no items at the
// level passes over.
type lookup struct {
	from, to uint64
	level    int
}

// appendLookups appends to out the lookups of the cells of a query: the
// range of each cell, and each of their ancestors at the levels in
// levels (a bit for each level) once, in the order of their first keys.
func appendLookups(out []lookup, cells []s2.CellID, levels uint32) []lookup {
	n := len(out)
	for _, c := range cells {
		out = append(out, lookup{from: uint64(c.RangeMin()) &^ math.MaxUint32, to: uint64(c.RangeMax()) | math.MaxUint32, level: -1})
		for l := c.Level() - 1; l >= 0; l-- {
			if levels&(1<<l) == 0 {
				continue
			}
			p := uint64(c.Parent(l))
			if !hasLookup(out[n:], p) {
				out = append(out, lookup{from: p, to: p | math.MaxUint32, level: l})
			}
		}
	}
	// An insertion sort: a query has a few dozen lookups at most.
	ls := out[n:]
	for i := 1; i < len(ls); i++ {
		for j := i; j > 0 && ls[j].from < ls[j-1].from; j-- {
			ls[j], ls[j-1] = ls[j-1], ls[j]
		}
	}
	return out
}

// hasLookup reports whether ls has a lookup whose first key is from.
func hasLookup(ls []lookup, from uint64) bool {
	for i := range ls {
		if ls[i].from == from {
			return true
		}
	}
	return false
}

// levelMask returns a bit for each cell level the bucket has items at.
func (b *bucket) levelMask() uint32 {
	var m uint32
	for l, n := range b.levels {
		if n != 0 {
			m |= 1 << l
		}
	}
	return m
}
