package geo

import (
	"runtime"
	"slices"
	"sync"
)

// Entry is one entry of an index to build: an ID, the group (party) it
// belongs to, and its volumes.
type Entry struct {
	ID, Group string
	Volumes   []Volume
}

// BuildIndex returns an index of the entries, the same as inserting them
// one by one in order into an empty index would give (a later entry with
// an ID replaces an earlier one), but faster: it works out the keys of
// the entries on every core and sorts each time bucket's keys once.
func BuildIndex(entries []Entry) *Index {
	ix := NewIndex()
	slotOf := make(map[string]uint32, len(entries))
	order := make([]int, 0, len(entries)) // by slot: the entry it holds
	for i := range entries {
		if s, ok := slotOf[entries[i].ID]; ok {
			order[s] = i
			continue
		}
		slotOf[entries[i].ID] = uint32(len(order))
		order = append(order, i)
	}
	ix.slots = slotOf
	ix.entries = make([]entry, len(order))
	ix.hulls = make([]hull, len(order))

	// Each worker files the items of a stretch of slots by bucket.
	workers := min(runtime.GOMAXPROCS(0), max(1, len(order)/1024))
	parts := make([]map[uint32][]uint64, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			part := make(map[uint32][]uint64)
			lo, hi := w*len(order)/workers, (w+1)*len(order)/workers
			for slot := lo; slot < hi; slot++ {
				e := &entries[order[slot]]
				vols := toVols(e.Volumes)
				ix.entries[slot] = entry{id: e.ID, group: e.Group, vols: vols}
				ix.hulls[slot] = hullOf(vols)
				for _, k := range keysOf(vols) {
					part[k.bucket] = append(part[k.bucket], itemKey(k.cell, uint32(slot)))
				}
			}
			parts[w] = part
		}()
	}
	wg.Wait()

	// Merge the workers' items, sort each bucket's, and cut them in chunks.
	sizes := make(map[uint32]int)
	for _, part := range parts {
		for bk, items := range part {
			sizes[bk] += len(items)
		}
	}
	type job struct {
		bk    uint32
		items []uint64
	}
	jobs := make(chan job)
	var mu sync.Mutex
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				slices.Sort(j.items)
				b := &bucket{items: keySetOf(j.items)}
				for _, k := range j.items {
					b.levels[cellOfItem(k).Level()]++
				}
				mu.Lock()
				ix.buckets[j.bk] = b
				ix.perTime[j.bk>>bucketBits] += len(j.items)
				mu.Unlock()
			}
		}()
	}
	for bk, n := range sizes {
		items := make([]uint64, 0, n)
		for _, part := range parts {
			items = append(items, part[bk]...)
			delete(part, bk)
		}
		jobs <- job{bk, items}
	}
	close(jobs)
	wg.Wait()
	return ix
}

// keySetOf returns the set of sorted, distinct keys, in chunks three
// quarters full that share the array of keys (a chunk that grows moves
// out of it).
func keySetOf(keys []uint64) keySet {
	const fill = chunkMax * 3 / 4
	s := keySet{n: len(keys)}
	for i := 0; i < len(keys); i += fill {
		j := min(i+fill, len(keys))
		s.chunks = append(s.chunks, keys[i:j:j])
		s.firsts = append(s.firsts, keys[i])
	}
	return s
}
