package geo

import (
	"math/bits"
	"slices"
	"strings"
	"sync"

	"github.com/deconflict/deconflict"
	"github.com/golang/geo/s1"
)

// Hit is an indexed entry that conflicts with the volumes of a query, and
// the separation CompareOperations gives for it.
type Hit struct {
	ID         string
	Group      string
	Separation deconflict.Separation
}

// Conflicts returns every entry of a group other than excludeGroup whose
// volumes conflict with vols under m, as CompareOperations would say,
// sorted by ID.
func (ix *Index) Conflicts(vols []Volume, m Minima, excludeGroup string) []Hit {
	s := searches.Get().(*search)
	defer s.release()
	s.ix, s.qs, s.m, s.limit = ix, toVols(vols), m, horizontalLimit(m)
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	for i := range s.qs {
		s.collect(&s.qs[i])
	}
	var hits []Hit
	for _, slot := range s.cands {
		e := &ix.entries[slot]
		if e.group == excludeGroup {
			continue
		}
		if sep, ok := compare(s.qs, e.vols, m); ok {
			hits = append(hits, Hit{ID: e.id, Group: e.group, Separation: sep})
		}
	}
	slices.SortFunc(hits, func(a, b Hit) int { return strings.Compare(a.ID, b.ID) })
	return hits
}

// search gathers the candidates of a query: entries filed under a bucket
// and a cell that may hold something close enough to a query volume, and
// whose hull is close enough to it in time, altitude and space.
type search struct {
	ix    *Index
	qs    []vol
	m     Minima
	limit s1.Angle // horizontalLimit(m)
	seen  slotSet
	cands []uint32
	visit func(uint64) bool
}

// searches recycles the scratch space of queries.
var searches = sync.Pool{New: func() any {
	s := &search{}
	s.visit = s.see
	return s
}}

// release clears s and returns it to the pool, unless it grew large.
func (s *search) release() {
	if len(s.seen.keys) > 1<<14 {
		return
	}
	clear(s.seen.keys)
	s.seen.n = 0
	s.ix, s.qs, s.cands = nil, nil, s.cands[:0]
	searches.Put(s)
}

// collect visits the items that may conflict with q.
func (s *search) collect(q *vol) {
	ix := s.ix
	cells := queryCells(q.fp, s.m.HorizontalM)
	t0 := q.start - s.m.TimeS - timeSlack
	t1 := q.end + s.m.TimeS + timeSlack
	t0, t1 = min(t0, t1), max(t0, t1)
	for k := range timeLevels {
		if ix.perTime[k] == 0 {
			continue
		}
		lo, hi := queryBuckets(k, t0, t1)
		if hi-lo >= int64(len(ix.buckets)) {
			// The query spans more buckets than exist: visit those.
			for bk, b := range ix.buckets {
				if int(bk>>bucketBits) == k && bk >= bucketKey(k, lo) && bk <= bucketKey(k, hi) {
					b.scan(cells, s.visit)
				}
			}
			continue
		}
		for j := lo; j <= hi; j++ {
			if b := ix.buckets[bucketKey(k, j)]; b != nil {
				b.scan(cells, s.visit)
			}
		}
	}
}

// see takes the entry of an item as a candidate the first time it comes,
// if its hull is near a query volume.
func (s *search) see(k uint64) bool {
	slot := keySlot(k)
	if !s.seen.add(slot) {
		return true
	}
	h := &s.ix.hulls[slot]
	for i := range s.qs {
		if h.near(&s.qs[i], s.m, s.limit) {
			s.cands = append(s.cands, slot)
			break
		}
	}
	return true
}

// slotSet is a set of slots, hashed with open addressing; it holds slot+1
// so that 0 marks a free place.
type slotSet struct {
	keys  []uint32
	n     int
	shift uint
}

// add adds slot and reports whether it was not there yet.
func (s *slotSet) add(slot uint32) bool {
	if 2*(s.n+1) > len(s.keys) {
		s.grow()
	}
	mask := uint32(len(s.keys) - 1)
	for h := (slot * 0x9e3779b1) >> s.shift; ; h = (h + 1) & mask {
		switch s.keys[h] {
		case 0:
			s.keys[h] = slot + 1
			s.n++
			return true
		case slot + 1:
			return false
		}
	}
}

func (s *slotSet) grow() {
	old := s.keys
	size := max(64, 2*len(old))
	s.keys, s.n, s.shift = make([]uint32, size), 0, uint(32-bits.TrailingZeros(uint(size)))
	for _, k := range old {
		if k != 0 {
			s.add(k - 1)
		}
	}
}
