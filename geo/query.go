package geo

import (
	"context"
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
	hits, _ := ix.ConflictsAt(vols, m, excludeGroup)
	return hits
}

// ConflictsAt is Conflicts, and the generation of the index it answered
// for, which Since can bring the answer forward from.
func (ix *Index) ConflictsAt(vols []Volume, m Minima, excludeGroup string) ([]Hit, uint64) {
	return ix.ConflictsAtPairs(vols, PairMinima{Minima: m}, excludeGroup)
}

// ConflictsContext is Conflicts, giving up with ctx's error when ctx ends
// (it looks every ctxEvery candidates).
func (ix *Index) ConflictsContext(ctx context.Context, vols []Volume, m Minima, excludeGroup string) ([]Hit, error) {
	return ix.ConflictsContextPairs(ctx, vols, PairMinima{Minima: m}, excludeGroup)
}

// ConflictsAtPairs is ConflictsAt with each entry compared under the
// minima p gives its group.
func (ix *Index) ConflictsAtPairs(vols []Volume, p PairMinima, excludeGroup string) ([]Hit, uint64) {
	hits, gen, _ := ix.conflictsAt(context.Background(), vols, p, excludeGroup)
	return hits, gen
}

// ConflictsContextPairs is ConflictsContext with each entry compared
// under the minima p gives its group.
func (ix *Index) ConflictsContextPairs(ctx context.Context, vols []Volume, p PairMinima, excludeGroup string) ([]Hit, error) {
	hits, _, err := ix.conflictsAt(ctx, vols, p, excludeGroup)
	return hits, err
}

// ctxEvery is how many candidates a search compares between looks at its
// context.
const ctxEvery = 64

// conflictsAt searches as far as the largest of p's minima reaches, and
// compares each candidate under the minima of its group.
func (ix *Index) conflictsAt(ctx context.Context, vols []Volume, p PairMinima, excludeGroup string) ([]Hit, uint64, error) {
	s := searches.Get().(*search)
	defer s.release()
	m := p.Bound()
	s.ix, s.qs, s.m, s.limit = ix, toVols(vols), m, horizontalLimit(m)
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if n := (len(ix.entries) + 63) / 64; len(s.seen.words) < n {
		s.seen.words = make([]uint64, n) // empty: release reset it
	}
	for i := range s.qs {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		s.collect(&s.qs[i])
	}
	var hits []Hit
	for i, slot := range s.cands {
		if i%ctxEvery == ctxEvery-1 {
			if err := ctx.Err(); err != nil {
				return nil, 0, err
			}
		}
		e := &ix.entries[slot]
		if e.group == excludeGroup {
			continue
		}
		if sep, ok := compare(s.qs, e.vols, p.Of(e.group)); ok {
			hits = append(hits, Hit{ID: e.id, Group: e.group, Separation: sep})
		}
	}
	sortHits(hits)
	return hits, ix.gen, nil
}

func sortHits(hits []Hit) {
	slices.SortFunc(hits, func(a, b Hit) int { return strings.Compare(a.ID, b.ID) })
}

// Since returns what Conflicts(vols, m, excludeGroup) answers now, given
// hits, its answer at generation gen (from ConflictsAt): the entries
// changed since are dropped from hits and, if still in the index,
// compared again. It costs what those changes cost, not a search, so a
// check can be searched for ahead and brought up to date at the moment it
// must be exact. ok is false, and hits nil, if the index no longer
// remembers every change since gen: search again.
func (ix *Index) Since(hits []Hit, gen uint64, vols []Volume, m Minima, excludeGroup string) (_ []Hit, ok bool) {
	return ix.SincePairs(hits, gen, vols, PairMinima{Minima: m}, excludeGroup)
}

// SincePairs is Since for an answer of ConflictsAtPairs under p.
func (ix *Index) SincePairs(hits []Hit, gen uint64, vols []Volume, p PairMinima, excludeGroup string) (_ []Hit, ok bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if gen > ix.gen || gen < ix.journalGen {
		return nil, false
	}
	if gen == ix.gen {
		return slices.Clone(hits), true
	}
	changed := make(map[string]bool, ix.gen-gen)
	for _, id := range ix.journal[gen-ix.journalGen:] {
		changed[id] = true
	}
	out := make([]Hit, 0, len(hits)+len(changed))
	for _, h := range hits {
		if !changed[h.ID] {
			out = append(out, h)
		}
	}
	var qs []vol
	m := p.Bound()
	for id := range changed {
		slot, live := ix.slots[id]
		if !live {
			continue
		}
		e := &ix.entries[slot]
		if e.group == excludeGroup {
			continue
		}
		if qs == nil {
			qs = toVols(vols)
		}
		if !ix.hulls[slot].nearAny(qs, m, horizontalLimit(m)) {
			continue
		}
		if sep, ok := compare(qs, e.vols, p.Of(e.group)); ok {
			out = append(out, Hit{ID: e.id, Group: e.group, Separation: sep})
		}
	}
	sortHits(out)
	return out, true
}

// search gathers the candidates of a query: entries filed under a bucket
// and a cell that may hold something close enough to a query volume, and
// whose hull is close enough to it in time, altitude and space.
type search struct {
	ix    *Index
	qs    []vol
	m     Minima   // the largest minima of the search (PairMinima.Bound)
	limit s1.Angle // horizontalLimit(m)
	seen  slotSet
	cands []uint32
	// buckets and lookups hold the buckets and the lookups of the
	// query volume being collected.
	buckets []*bucket
	lookups []lookup
	// chunks and at hold the position in each bucket of the first
	// lookup's first key (seekAll), keys its scratch space.
	chunks, at []int
	keys       [][]uint64
}

// searches recycles the scratch space of queries.
var searches = sync.Pool{New: func() any { return &search{} }}

// release clears s and returns it to the pool.
func (s *search) release() {
	s.seen.reset()
	clear(s.buckets)
	s.ix, s.qs, s.cands = nil, nil, s.cands[:0]
	searches.Put(s)
}

// collect visits the items that may conflict with q: it finds the
// buckets to look in first, so that the lookups of the query's cells
// (appendLookups) leave out ancestors at levels none of them has items
// at.
func (s *search) collect(q *vol) {
	ix := s.ix
	t0 := q.start - s.m.TimeS - timeSlack
	t1 := q.end + s.m.TimeS + timeSlack
	t0, t1 = min(t0, t1), max(t0, t1)
	s.buckets = s.buckets[:0]
	var levels uint32
	for k := range timeLevels {
		if ix.perTime[k] == 0 {
			continue
		}
		lo, hi := queryBuckets(k, t0, t1)
		if hi-lo >= int64(len(ix.buckets)) {
			// The query spans more buckets than exist: visit those.
			for bk, b := range ix.buckets {
				if int(bk>>bucketBits) == k && bk >= bucketKey(k, lo) && bk <= bucketKey(k, hi) {
					s.buckets = append(s.buckets, b)
					levels |= b.levelMask()
				}
			}
			continue
		}
		for j := lo; j <= hi; j++ {
			if b := ix.buckets[bucketKey(k, j)]; b != nil {
				s.buckets = append(s.buckets, b)
				levels |= b.levelMask()
			}
		}
	}
	if len(s.buckets) == 0 {
		return
	}
	cells := queryCells(q.fp, s.m.HorizontalM)
	s.lookups = appendLookups(s.lookups[:0], cells, levels)
	n := len(s.buckets)
	s.chunks, s.at = slices.Grow(s.chunks[:0], n)[:n], slices.Grow(s.at[:0], n)[:n]
	s.keys = slices.Grow(s.keys[:0], n)[:n]
	seekAll(s.buckets, s.lookups[0].from, s.chunks, s.at, s.keys)
	for k, b := range s.buckets {
		b.scan(s.lookups, s.chunks[k], s.at[k], s)
	}
}

// see takes the entry of an item as a candidate the first time it comes,
// if its hull is near a query volume.
func (s *search) see(k uint64) {
	slot := keySlot(k)
	if !s.seen.add(slot) {
		return
	}
	if s.ix.hulls[slot].nearAny(s.qs, s.m, s.limit) {
		s.cands = append(s.cands, slot)
	}
}

// slotSet is a set of slots: a bitmap, and the words of it in use, so
// that clearing it costs what the query visited.
type slotSet struct {
	words   []uint64
	touched []uint32
}

// add adds slot and reports whether it was not there yet.
func (s *slotSet) add(slot uint32) bool {
	w := slot >> 6
	if int(w) >= len(s.words) {
		s.words = append(s.words, make([]uint64, int(w)+1-len(s.words))...)
	}
	bit := uint64(1) << (slot & 63)
	x := s.words[w]
	if x&bit != 0 {
		return false
	}
	if x == 0 {
		s.touched = append(s.touched, w)
	}
	s.words[w] = x | bit
	return true
}

// reset empties the set.
func (s *slotSet) reset() {
	for _, w := range s.touched {
		s.words[w] = 0
	}
	s.touched = s.touched[:0]
}
