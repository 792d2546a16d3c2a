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

// scan visits the items of the bucket whose cells meet cells: their
// descendants by a range scan, their ancestors at the levels in use one by
// one.
func (b *bucket) scan(cells []s2.CellID, s *search) {
	var ancestors [2 * (maxEntryLevel + 1)]s2.CellID
	na := 0
	for _, c := range cells {
		b.scanRange(c.RangeMin(), c.RangeMax(), s)
		for l := c.Level() - 1; l >= 0; l-- {
			if b.levels[l] == 0 {
				continue
			}
			p := c.Parent(l)
			if !slices.Contains(ancestors[:na], p) {
				if na == len(ancestors) {
					b.scanRange(p, p, s)
					continue
				}
				ancestors[na] = p
				na++
			}
		}
	}
	for _, p := range ancestors[:na] {
		b.scanRange(p, p, s)
	}
}

// scanRange passes the items whose cells lie in [lo, hi] to s.see. (It
// is keySet.ascend with the call made directly.)
func (b *bucket) scanRange(lo, hi s2.CellID, s *search) {
	from := uint64(lo) &^ math.MaxUint32
	to := uint64(hi) | math.MaxUint32
	set := &b.items
	if len(set.chunks) == 0 {
		return
	}
	i := set.chunk(from)
	j, _ := slices.BinarySearch(set.chunks[i], from)
	for ; i < len(set.chunks); i, j = i+1, 0 {
		for _, k := range set.chunks[i][j:] {
			if k > to {
				return
			}
			s.see(k)
		}
	}
}
