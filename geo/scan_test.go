package geo

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/golang/geo/s1"
	"github.com/golang/geo/s2"
)

// The tests of this file check the walk of a search through its buckets
// (appendLookups, seekAll, bucket.scan) item by item against brute
// force, on buckets and query cells chosen to be awkward: cells of every
// level that nest in one another, at the first and last cells of faces,
// many items under one cell, buckets of no, one, or hundreds of chunks.

// scanCells runs the end of search.collect on cells and buckets: the
// lookups of cells at the levels the buckets have items at, the seek of
// every bucket to the first lookup, and the scan of each. It returns the
// slots the search saw.
func scanCells(bs []*bucket, cells []s2.CellID, slots int) []bool {
	s := &search{ix: &Index{hulls: make([]hull, slots)}}
	var levels uint32
	for _, b := range bs {
		levels |= b.levelMask()
	}
	s.lookups = appendLookups(nil, cells, levels)
	n := len(bs)
	s.chunks, s.at, s.keys = make([]int, n), make([]int, n), make([][]uint64, n)
	if len(s.lookups) > 0 {
		seekAll(bs, s.lookups[0].from, s.chunks, s.at, s.keys)
		for k, b := range bs {
			b.scan(s.lookups, s.chunks[k], s.at[k], s)
		}
	}
	seen := make([]bool, slots)
	for slot := range seen {
		w := slot >> 6
		seen[slot] = w < len(s.seen.words) && s.seen.words[w]&(1<<(slot&63)) != 0
	}
	return seen
}

// mustVisit reports whether a search for cells must visit an item of
// cell k: the cells meet (one holds the other).
func mustVisit(k s2.CellID, cells []s2.CellID) bool {
	for _, c := range cells {
		if k.Intersects(c) {
			return true
		}
	}
	return false
}

// scanVisits reports whether a search for cells visits item key k, as a
// range scan over each cell and a look-up of each ancestor (the search
// before lookups were merged) visits it.
func scanVisits(k uint64, cells []s2.CellID) bool {
	kc := cellOfItem(k)
	for _, c := range cells {
		lo, hi := uint64(c.RangeMin())&^math.MaxUint32, uint64(c.RangeMax())|math.MaxUint32
		if lo <= k && k <= hi {
			return true
		}
		if kc.Level() < c.Level() && c.Parent(kc.Level()) == kc {
			return true
		}
	}
	return false
}

// awkwardCell returns a cell of a level from 0 to maxLevel: an ancestor
// of one of hot (so that cells nest), a cell next to one, the first or
// last cell of a face, or any.
func awkwardCell(r *rand.Rand, hot []s2.CellID, maxLevel int) s2.CellID {
	level := r.IntN(maxLevel + 1)
	switch r.IntN(6) {
	case 0, 1, 2:
		return hot[r.IntN(len(hot))].Parent(level)
	case 3:
		c := hot[r.IntN(len(hot))].Parent(level)
		if n := c.Next(); r.IntN(2) == 0 && n.IsValid() {
			return n
		}
		if p := c.Prev(); p.IsValid() {
			return p
		}
		return c
	case 4:
		f := s2.CellIDFromFace(r.IntN(6))
		if r.IntN(2) == 0 {
			return f.ChildBeginAtLevel(level)
		}
		return f.ChildEndAtLevel(level).Prev()
	default:
		return s2.CellIDFromFacePosLevel(r.IntN(6), r.Uint64(), level)
	}
}

// hotCells returns a few leaf cells to gather cells around: any, and
// the first and last of faces.
func hotCells(r *rand.Rand) []s2.CellID {
	hot := make([]s2.CellID, 1+r.IntN(4))
	for i := range hot {
		switch r.IntN(4) {
		case 0:
			hot[i] = s2.CellIDFromFace(r.IntN(6)).ChildBeginAtLevel(s2.MaxLevel)
		case 1:
			hot[i] = s2.CellIDFromFace(r.IntN(6)).ChildEndAtLevel(s2.MaxLevel).Prev()
		default:
			hot[i] = s2.CellIDFromFacePosLevel(r.IntN(6), r.Uint64(), s2.MaxLevel)
		}
	}
	return hot
}

// awkwardBucket returns a bucket of n items of cells from awkwardCell,
// many under the same cell, with the slots from base on, and their keys.
// Its chunks are as a snapshot lays them out, or as insertions and
// deletions leave them.
func awkwardBucket(r *rand.Rand, hot []s2.CellID, n, base int) (*bucket, []uint64) {
	cells := make([]s2.CellID, 1+r.IntN(max(n, 1)))
	for i := range cells {
		cells[i] = awkwardCell(r, hot, maxEntryLevel)
	}
	b := &bucket{}
	keys := make([]uint64, n)
	for i := range keys {
		c := cells[r.IntN(len(cells))]
		keys[i] = itemKey(c, uint32(base+i))
		b.levels[c.Level()]++
	}
	if r.IntN(2) == 0 {
		sorted := slices.Clone(keys)
		slices.Sort(sorted)
		b.items = keySetOf(sorted)
		return b, keys
	}
	// Insert the keys and some others, then delete the others, so that
	// chunks split and merge.
	extra := make([]uint64, r.IntN(2*n+1))
	for i := range extra {
		extra[i] = itemKey(cells[r.IntN(len(cells))], uint32(1<<31+i))
	}
	all := append(slices.Clone(keys), extra...)
	r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	for _, k := range all {
		b.items.insert(k)
	}
	r.Shuffle(len(extra), func(i, j int) { extra[i], extra[j] = extra[j], extra[i] })
	for _, k := range extra {
		if !b.items.delete(k) {
			panic("lost an extra key")
		}
	}
	return b, keys
}

// bucketSize returns an awkward number of items for a bucket: none, one,
// around a chunk's worth, or several chunks'.
func bucketSize(r *rand.Rand) int {
	switch r.IntN(5) {
	case 0:
		return r.IntN(3)
	case 1:
		return chunkMax*3/4 - 1 + r.IntN(3)
	case 2:
		return chunkMax - 1 + r.IntN(3)
	case 3:
		return r.IntN(40)
	default:
		return r.IntN(1500)
	}
}

// checkScan runs a search for cells over buckets and checks each item
// against brute force.
func checkScan(t *testing.T, bs []*bucket, keys [][]uint64, cells []s2.CellID, slots int) {
	t.Helper()
	seen := scanCells(bs, cells, slots)
	for k, ks := range keys {
		for _, key := range ks {
			slot, kc := keySlot(key), cellOfItem(key)
			if mustVisit(kc, cells) && !seen[slot] {
				t.Fatalf("bucket %d: item of cell %v (level %d) missed by cells %v", k, kc, kc.Level(), cells)
			}
			if want := scanVisits(key, cells); seen[slot] != want {
				t.Fatalf("bucket %d: item of cell %v (level %d) visited %v, a scan of each cell: %v; cells %v",
					k, kc, kc.Level(), seen[slot], want, cells)
			}
		}
	}
}

// TestScanMatchesBruteForce checks that a search visits exactly the
// items a range scan of each query cell and a look-up of each of its
// ancestors would, among them every item whose cell meets a query cell,
// over many buckets of awkward items and query cells of levels up to one
// finer than items are filed at, in any order, repeated and nested.
func TestScanMatchesBruteForce(t *testing.T) {
	r := newRand(t)
	for range cases(3000) {
		hot := hotCells(r)
		var bs []*bucket
		var keys [][]uint64
		slots := 0
		for range 1 + r.IntN(4) {
			b, ks := awkwardBucket(r, hot, bucketSize(r), slots)
			slots += len(ks)
			bs, keys = append(bs, b), append(keys, ks)
		}
		cells := make([]s2.CellID, r.IntN(20))
		for i := range cells {
			cells[i] = awkwardCell(r, hot, maxEntryLevel+1)
		}
		if r.IntN(4) == 0 {
			slices.Sort(cells)
		}
		checkScan(t, bs, keys, cells, slots)
	}
}

// TestScanQueryCells is TestScanMatchesBruteForce with the cells of
// searches near awkward places (queryCells) and items filed as capCells
// files them there.
func TestScanQueryCells(t *testing.T) {
	r := newRand(t)
	radii := []float64{0, 1, 300, 5e3, 9260, 1e5, 2e6, 8e6}
	for range cases(1000) {
		var bs []*bucket
		var keys [][]uint64
		slots := 0
		centre := awkwardCentre(r)
		for range 1 + r.IntN(3) {
			b := &bucket{}
			var ks []uint64
			for range bucketSize(r) {
				c := awkwardCentre(r)
				if r.IntN(2) == 0 {
					c = centre
				}
				for _, cell := range capCells(c, s1.Angle(radii[r.IntN(len(radii))]/EarthRadiusM)) {
					k := itemKey(cell, uint32(slots))
					slots++
					b.items.insert(k)
					b.levels[cell.Level()]++
					ks = append(ks, k)
				}
			}
			bs, keys = append(bs, b), append(keys, ks)
		}
		fp := &Footprint{bound: s2.CapFromPoint(centre)}
		checkScan(t, bs, keys, queryCells(fp, radii[r.IntN(len(radii))]), slots)
	}
}

// FuzzScan draws buckets and query cells from its input, 8 bytes a cell,
// and checks a search over them as TestScanMatchesBruteForce does.
func FuzzScan(f *testing.F) {
	f.Add([]byte{}, uint8(3), uint16(300))
	f.Add(binary.BigEndian.AppendUint64(nil, 0), uint8(1), uint16(1))
	f.Add(binary.BigEndian.AppendUint64(nil, math.MaxUint64), uint8(2), uint16(600))
	f.Fuzz(func(t *testing.T, data []byte, nCells uint8, per uint16) {
		var cells []s2.CellID
		for len(data) >= 8 {
			cells = append(cells, fuzzCell(binary.BigEndian.Uint64(data)))
			data = data[8:]
		}
		if len(cells) == 0 {
			return
		}
		// The first nCells are the query's, the rest the items'.
		q := cells[:min(int(nCells), len(cells))]
		filed := cells[len(q):]
		if len(filed) == 0 {
			filed = q
		}
		b := &bucket{}
		var ks []uint64
		for i := range min(int(per), 3000) {
			c := filed[i%len(filed)]
			if c.Level() > maxEntryLevel {
				c = c.Parent(maxEntryLevel)
			}
			k := itemKey(c, uint32(i))
			b.items.insert(k)
			b.levels[c.Level()]++
			ks = append(ks, k)
		}
		checkScan(t, []*bucket{b, {}}, [][]uint64{ks, nil}, q, len(ks))
	})
}

// fuzzCell returns a valid cell of level at most maxEntryLevel+1 from
// the bits of x: its face and position from the top bits, its level from
// the lowest.
func fuzzCell(x uint64) s2.CellID {
	level := int(x&0xff) % (maxEntryLevel + 2)
	return s2.CellIDFromFacePosLevel(int(x>>61)%6, x<<3, level)
}

// TestScanLookups checks bucket.scan on lookups of any keys, sorted by
// their first keys, overlapping, nested, repeated and empty, from 0 to
// the largest, against the keys in their ranges, skipping those of a
// level the bucket has no items at.
func TestScanLookups(t *testing.T) {
	r := newRand(t)
	for range cases(3000) {
		n := bucketSize(r)
		// Keys whose high halves crowd around a few values, with 0 and
		// the largest among them, and whose low halves are their slots.
		his := []uint32{0, math.MaxUint32, r.Uint32(), r.Uint32()}
		keys := make([]uint64, n)
		for i := range keys {
			hi := his[r.IntN(len(his))] + uint32(r.IntN(3)) - 1
			keys[i] = uint64(hi)<<32 | uint64(i)
		}
		sorted := slices.Clone(keys)
		slices.Sort(sorted)
		b := &bucket{items: keySetOf(sorted)}
		if r.IntN(2) == 0 {
			b = &bucket{}
			for _, k := range keys {
				b.items.insert(k)
			}
		}
		for l := range b.levels {
			b.levels[l] = int32(r.IntN(2))
		}
		// Bounds: keys, next to keys, and the ends of the key space.
		bound := func() uint64 {
			switch r.IntN(4) {
			case 0:
				return []uint64{0, 1, math.MaxUint64 - 1, math.MaxUint32, math.MaxUint32 + 1}[r.IntN(5)]
			case 1:
				return uint64(his[r.IntN(len(his))])<<32 | uint64(r.IntN(n+2))
			}
			if n == 0 {
				return r.Uint64()
			}
			return keys[r.IntN(n)] + uint64(r.IntN(3)) - 1
		}
		lks := make([]lookup, 1+r.IntN(12))
		for i := range lks {
			from, to := bound(), bound()
			if r.IntN(4) > 0 {
				from, to = min(from, to), max(from, to)
			}
			lks[i] = lookup{from: from, to: to, level: r.IntN(maxEntryLevel+2) - 1}
		}
		slices.SortStableFunc(lks, func(a, b lookup) int { return cmpUint64(a.from, b.from) })
		s := &search{ix: &Index{hulls: make([]hull, n)}}
		chunks, at, scratch := make([]int, 1), make([]int, 1), make([][]uint64, 1)
		seekAll([]*bucket{b}, lks[0].from, chunks, at, scratch)
		b.scan(lks, chunks[0], at[0], s)
		for _, k := range keys {
			want := false
			for _, lk := range lks {
				if (lk.level < 0 || b.levels[lk.level] != 0) && lk.from <= k && k <= lk.to {
					want = true
				}
			}
			slot := keySlot(k)
			got := int(slot>>6) < len(s.seen.words) && s.seen.words[slot>>6]&(1<<(slot&63)) != 0
			if got != want {
				t.Fatalf("key %#x: visited %v, want %v; lookups %+v", k, got, want, lks)
			}
		}
	}
}

func cmpUint64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
