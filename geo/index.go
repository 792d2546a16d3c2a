package geo

import (
	"slices"
	"strings"
	"sync"

	"github.com/deconflict/deconflict"
	"github.com/golang/geo/s2"
	"github.com/google/btree"
)

// Index holds the volumes of many operations and finds those that conflict
// with given volumes without looking at every one. Its answers are exactly
// those of CompareOperations against every entry. It is safe for
// concurrent use: queries share a read lock, changes take a write lock.
type Index struct {
	mu      sync.RWMutex
	tree    *btree.BTreeG[item]
	entries []entry // by slot
	free    []uint32
	slots   map[string]uint32
	// levels counts items by time level and cell level, so that queries
	// look up ancestors only at levels in use.
	levels [timeLevels][s2.MaxLevel + 1]int32
}

type entry struct {
	id, group string
	vols      []vol
}

// item files the entry in slot under a time bucket and a cell.
type item struct {
	bucket uint32
	slot   uint32
	cell   s2.CellID
}

func itemLess(a, b item) bool {
	if a.bucket != b.bucket {
		return a.bucket < b.bucket
	}
	if a.cell != b.cell {
		return a.cell < b.cell
	}
	return a.slot < b.slot
}

// Hit is an indexed entry that conflicts with the volumes of a query, and
// the separation CompareOperations gives for it.
type Hit struct {
	ID         string
	Group      string
	Separation deconflict.Separation
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{tree: btree.NewG(32, itemLess), slots: make(map[string]uint32)}
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
	keys := itemsOf(e.vols, 0)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if slot, ok := ix.slots[id]; ok {
		ix.remove(slot)
	}
	var slot uint32
	if n := len(ix.free); n > 0 {
		slot, ix.free = ix.free[n-1], ix.free[:n-1]
		ix.entries[slot] = e
	} else {
		slot = uint32(len(ix.entries))
		ix.entries = append(ix.entries, e)
	}
	ix.slots[id] = slot
	for _, it := range keys {
		it.slot = slot
		ix.tree.ReplaceOrInsert(it)
		ix.levels[timeLevelOf(it.bucket)][it.cell.Level()]++
	}
}

// Remove removes entry id, if there is one.
func (ix *Index) Remove(id string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if slot, ok := ix.slots[id]; ok {
		ix.remove(slot)
	}
}

func (ix *Index) remove(slot uint32) {
	e := &ix.entries[slot]
	for _, it := range itemsOf(e.vols, slot) {
		if _, ok := ix.tree.Delete(it); ok {
			ix.levels[timeLevelOf(it.bucket)][it.cell.Level()]--
		}
	}
	delete(ix.slots, e.id)
	*e = entry{}
	ix.free = append(ix.free, slot)
}

// itemsOf returns the distinct items that file volumes in slot.
func itemsOf(vols []vol, slot uint32) []item {
	var out []item
	for i := range vols {
		v := &vols[i]
		k, lo, hi := timeSpan(v.start, v.end)
		for _, c := range entryCells(v.fp) {
			for b := lo; b <= hi; b++ {
				out = append(out, item{bucket: bucketKey(k, b), slot: slot, cell: c})
			}
		}
	}
	slices.SortFunc(out, func(a, b item) int {
		if itemLess(a, b) {
			return -1
		} else if itemLess(b, a) {
			return 1
		}
		return 0
	})
	return slices.Compact(out)
}

// maxBucketSeeks bounds the buckets of one level a query looks up one by
// one; beyond it the query scans the whole range of buckets.
const maxBucketSeeks = 16

// Conflicts returns every entry of a group other than excludeGroup whose
// volumes conflict with vols under m, as CompareOperations would say,
// sorted by ID.
func (ix *Index) Conflicts(vols []Volume, m Minima, excludeGroup string) []Hit {
	qs := toVols(vols)
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var cands []uint32
	add := func(it item) bool {
		cands = append(cands, it.slot)
		return true
	}
	for i := range qs {
		q := &qs[i]
		cells := queryCells(q.fp, m.HorizontalM)
		t0 := q.start - m.TimeS - timeSlack
		t1 := q.end + m.TimeS + timeSlack
		t0, t1 = min(t0, t1), max(t0, t1)
		for k := range timeLevels {
			used := ix.levels[k][:]
			if !slices.ContainsFunc(used, func(n int32) bool { return n > 0 }) {
				continue
			}
			lo, hi := queryBuckets(k, t0, t1)
			if hi-lo >= maxBucketSeeks {
				ix.tree.AscendRange(item{bucket: bucketKey(k, lo)}, item{bucket: bucketKey(k, hi) + 1}, add)
				continue
			}
			for b := lo; b <= hi; b++ {
				ix.scanBucket(bucketKey(k, b), cells, used, add)
			}
		}
	}
	slices.Sort(cands)
	cands = slices.Compact(cands)
	var hits []Hit
	for _, slot := range cands {
		e := &ix.entries[slot]
		if e.group == excludeGroup {
			continue
		}
		if s, ok := compare(qs, e.vols, m); ok {
			hits = append(hits, Hit{ID: e.id, Group: e.group, Separation: s})
		}
	}
	slices.SortFunc(hits, func(a, b Hit) int { return strings.Compare(a.ID, b.ID) })
	return hits
}

// scanBucket visits the items of one bucket whose cells intersect cells:
// their descendants by a range scan, their ancestors at the levels in use
// one by one.
func (ix *Index) scanBucket(bucket uint32, cells s2.CellUnion, used []int32, visit func(item) bool) {
	var ancestors []s2.CellID
	for _, c := range cells {
		lo, hi := c.RangeMin(), c.RangeMax()
		ix.tree.AscendGreaterOrEqual(item{bucket: bucket, cell: lo}, func(it item) bool {
			return it.bucket == bucket && it.cell <= hi && visit(it)
		})
		for l := c.Level() - 1; l >= 0; l-- {
			if used[l] > 0 {
				ancestors = append(ancestors, c.Parent(l))
			}
		}
	}
	slices.Sort(ancestors)
	for _, a := range slices.Compact(ancestors) {
		ix.tree.AscendGreaterOrEqual(item{bucket: bucket, cell: a}, func(it item) bool {
			return it.bucket == bucket && it.cell == a && visit(it)
		})
	}
}
