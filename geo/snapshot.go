package geo

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"sync"
)

// A snapshot (WriteSnapshot, ReadSnapshot) is the index as it is held,
// written out so that a restart reads it back instead of working out
// every entry's keys again: the entries by slot, each with its volumes
// in the compact form's footprint encoding and its times as the
// comparisons use them, and every bucket's sorted items. All numbers are
// little-endian.
//
//	[8]byte  snapshotMagic, then byte encodingVersion, byte cellsVersion
//	uvarint  number of groups, then each: uvarint length, bytes
//	uvarint  number of slots, uvarint number of chunks, then each chunk:
//	         uvarint first slot, uvarint slots, uvarint length of its IDs,
//	         the IDs one after the other, uvarint length of the rest, and
//	         for each slot: uvarint ID length (0: a free slot), then
//	         uvarint group, uvarint volume count, and for each volume:
//	         float64 lower, upper, start, end; byte kind; footprint
//	         (appendFootprint)
//	uvarint  number of free slots, then each as a uvarint
//	uvarint  number of buckets, then each: uint32 key, uvarint number of
//	         items, then the items as uint64
//
// Chunks let ReadSnapshot decode on every core. A snapshot says nothing
// of where it came from: the caller keeps that beside it.
var snapshotMagic = [8]byte{'d', 'c', 'i', 'n', 'd', 'e', 'x', 1}

// snapshotChunk is the most slots in a chunk.
const snapshotChunk = 1 << 14

// errSnapshot is wrapped by the errors of ReadSnapshot.
var errSnapshot = errors.New("corrupt index snapshot")

// WriteSnapshot writes a snapshot of the index to w. It holds the index's
// read lock while it runs: queries go on, changes wait (see Freeze).
func (ix *Index) WriteSnapshot(w io.Writer) error {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return writeSnapshot(w, ix.entries, ix.free, ix.buckets)
}

// Frozen is an index as it was when Freeze was called, to be written out
// as a snapshot while the index goes on changing.
type Frozen struct {
	entries []entry
	free    []uint32
	buckets map[uint32]*bucket
	live    int
}

// Freeze returns the index as it is now, for a snapshot. It copies what
// changes would alter in place (the entries by slot, the free list and
// every bucket's items; an entry's volumes are never altered, and are
// shared)
// under the read lock, which changes wait for: a fraction of the time that
// writing the index out takes (BenchmarkSnapshotWrite measures both), so
// writes wait only for the copy. The copy takes 127 bytes an entry until
// dropped.
func (ix *Index) Freeze() *Frozen {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	f := &Frozen{
		entries: slices.Clone(ix.entries),
		free:    slices.Clone(ix.free),
		buckets: make(map[uint32]*bucket, len(ix.buckets)),
		live:    len(ix.slots),
	}
	for k, b := range ix.buckets {
		c := &bucket{levels: b.levels}
		c.items.n = b.items.n
		c.items.firsts = slices.Clone(b.items.firsts)
		c.items.chunks = make([][]uint64, len(b.items.chunks))
		for i, ch := range b.items.chunks {
			c.items.chunks[i] = slices.Clone(ch)
		}
		f.buckets[k] = c
	}
	return f
}

// Len returns the number of entries of the frozen index.
func (f *Frozen) Len() int { return f.live }

// WriteSnapshot writes a snapshot of the frozen index to w, as
// Index.WriteSnapshot does of the index.
func (f *Frozen) WriteSnapshot(w io.Writer) error {
	return writeSnapshot(w, f.entries, f.free, f.buckets)
}

// writeSnapshot writes a snapshot of an index made of entries, free and
// buckets to w.
func writeSnapshot(w io.Writer, entries []entry, free []uint32, buckets map[uint32]*bucket) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	b := append(snapshotMagic[:len(snapshotMagic):len(snapshotMagic)], encodingVersion, cellsVersion)

	groups := map[string]uint64{}
	var names []string
	for i := range entries {
		g := entries[i].group
		if _, ok := groups[g]; !ok && entries[i].id != "" {
			groups[g] = uint64(len(names))
			names = append(names, g)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, g := range names {
		b = appendString(b, g)
	}
	n := len(entries)
	b = binary.AppendUvarint(b, uint64(n))
	b = binary.AppendUvarint(b, uint64((n+snapshotChunk-1)/snapshotChunk))
	if _, err := bw.Write(b); err != nil {
		return err
	}

	var ids, rest []byte
	for lo := 0; lo < n; lo += snapshotChunk {
		hi := min(lo+snapshotChunk, n)
		ids, rest = ids[:0], rest[:0]
		for i := lo; i < hi; i++ {
			e := &entries[i]
			ids = append(ids, e.id...)
			rest = binary.AppendUvarint(rest, uint64(len(e.id)))
			if e.id == "" {
				continue
			}
			rest = binary.AppendUvarint(rest, groups[e.group])
			rest = binary.AppendUvarint(rest, uint64(len(e.vols)))
			for j := range e.vols {
				v := &e.vols[j]
				rest = appendFloat(rest, v.lower)
				rest = appendFloat(rest, v.upper)
				rest = appendFloat(rest, v.start)
				rest = appendFloat(rest, v.end)
				rest = append(rest, kindOf(v.fp))
				rest = appendFootprint(rest, v.fp)
			}
		}
		b = binary.AppendUvarint(b[:0], uint64(lo))
		b = binary.AppendUvarint(b, uint64(hi-lo))
		b = binary.AppendUvarint(b, uint64(len(ids)))
		b = append(b, ids...)
		b = binary.AppendUvarint(b, uint64(len(rest)))
		b = append(b, rest...)
		if _, err := bw.Write(b); err != nil {
			return err
		}
	}

	b = binary.AppendUvarint(b[:0], uint64(len(free)))
	for _, s := range free {
		b = binary.AppendUvarint(b, uint64(s))
	}
	b = binary.AppendUvarint(b, uint64(len(buckets)))
	for key, bk := range buckets {
		b = binary.LittleEndian.AppendUint32(b, key)
		b = binary.AppendUvarint(b, uint64(bk.items.len()))
		for _, c := range bk.items.chunks {
			for _, k := range c {
				b = binary.LittleEndian.AppendUint64(b, k)
			}
		}
		if len(b) >= 1<<16 {
			if _, err := bw.Write(b); err != nil {
				return err
			}
			b = b[:0]
		}
	}
	if _, err := bw.Write(b); err != nil {
		return err
	}
	return bw.Flush()
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// ReadSnapshot returns the index a snapshot (WriteSnapshot) holds. It
// checks that the snapshot is well formed and was written by code that
// files entries as this code does, not that it is the snapshot wanted:
// that is the caller's to know.
func ReadSnapshot(data []byte) (*Index, error) {
	d := decoder{b: data}
	if m := d.take(len(snapshotMagic)); string(m) != string(snapshotMagic[:]) {
		return nil, fmt.Errorf("%w: not an index snapshot", errSnapshot)
	}
	if ev, cv := d.byte(), d.byte(); ev != encodingVersion || cv != cellsVersion {
		return nil, fmt.Errorf("%w: written by another version (encoding %d, cells %d)", errSnapshot, ev, cv)
	}
	ng := d.uvarint()
	if ng > uint64(len(d.b)) {
		return nil, fmt.Errorf("%w: %d groups", errSnapshot, ng)
	}
	groups := make([]string, ng)
	for i := range groups {
		groups[i] = string(d.take(int(min(d.uvarint(), uint64(len(d.b))+1))))
	}
	n := d.uvarint()
	nchunks := d.uvarint()
	if d.short || n > math.MaxUint32 || n > uint64(len(d.b)) || nchunks != (n+snapshotChunk-1)/snapshotChunk {
		return nil, fmt.Errorf("%w: %d slots in %d chunks", errSnapshot, n, nchunks)
	}
	type chunk struct {
		lo, n int
		ids   string
		rest  []byte
	}
	chunks := make([]chunk, nchunks)
	for i := range chunks {
		lo, cn := d.uvarint(), d.uvarint()
		if lo != uint64(i)*snapshotChunk || cn != min(n-lo, snapshotChunk) {
			return nil, fmt.Errorf("%w: chunk %d", errSnapshot, i)
		}
		ids := d.take(int(min(d.uvarint(), uint64(len(d.b))+1)))
		rest := d.take(int(min(d.uvarint(), uint64(len(d.b))+1)))
		if d.short {
			return nil, fmt.Errorf("%w: chunk %d is cut short", errSnapshot, i)
		}
		chunks[i] = chunk{int(lo), int(cn), string(ids), rest}
	}

	ix := NewIndex()
	ix.entries = make([]entry, n)
	ix.hulls = make([]hull, n)
	errs := make([]error, len(chunks))
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c := &chunks[i]
				errs[i] = readSnapshotChunk(ix, groups, c.lo, c.n, c.ids, c.rest)
			}
		}()
	}
	for i := range chunks {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	live := 0
	for i := range ix.entries {
		if ix.entries[i].id != "" {
			live++
		}
	}
	ix.slots = make(map[string]uint32, live)
	for i := range ix.entries {
		if id := ix.entries[i].id; id != "" {
			if _, dup := ix.slots[id]; dup {
				return nil, fmt.Errorf("%w: entry %q twice", errSnapshot, id)
			}
			ix.slots[id] = uint32(i)
		}
	}
	nfree := d.uvarint()
	if nfree != n-uint64(live) {
		return nil, fmt.Errorf("%w: %d free slots for %d empty", errSnapshot, nfree, n-uint64(live))
	}
	ix.free = make([]uint32, nfree)
	for i := range ix.free {
		s := d.uvarint()
		if s >= n || ix.entries[s].id != "" {
			return nil, fmt.Errorf("%w: free slot %d", errSnapshot, s)
		}
		ix.free[i] = uint32(s)
	}

	nb := d.uvarint()
	if nb > uint64(len(d.b)) {
		return nil, fmt.Errorf("%w: %d buckets", errSnapshot, nb)
	}
	for range nb {
		key := binary.LittleEndian.Uint32(d.take(4))
		ni := d.uvarint()
		if d.short || ni == 0 || ni > uint64(len(d.b))/8 {
			return nil, fmt.Errorf("%w: bucket %#x", errSnapshot, key)
		}
		if _, dup := ix.buckets[key]; dup || int(key>>bucketBits) >= timeLevels {
			return nil, fmt.Errorf("%w: bucket %#x", errSnapshot, key)
		}
		items := make([]uint64, ni)
		raw := d.take(8 * int(ni))
		for i := range items {
			items[i] = binary.LittleEndian.Uint64(raw[8*i:])
			if keySlot(items[i]) >= uint32(n) || ix.entries[keySlot(items[i])].id == "" ||
				(i > 0 && items[i] <= items[i-1]) {
				return nil, fmt.Errorf("%w: bucket %#x item %d", errSnapshot, key, i)
			}
		}
		bk := &bucket{items: keySetOf(items)}
		for _, k := range items {
			c := cellOfItem(k)
			if !c.IsValid() || c.Level() > maxEntryLevel {
				return nil, fmt.Errorf("%w: bucket %#x: item %#x of no cell of level at most %d", errSnapshot, key, k, maxEntryLevel)
			}
			bk.levels[c.Level()]++
		}
		ix.buckets[key] = bk
		ix.perTime[key>>bucketBits] += len(items)
	}
	if d.short || len(d.b) != 0 {
		return nil, fmt.Errorf("%w: %d bytes left over", errSnapshot, len(d.b))
	}
	return ix, nil
}

// readSnapshotChunk decodes the entries of slots lo to lo+n-1.
func readSnapshotChunk(ix *Index, groups []string, lo, n int, ids string, rest []byte) error {
	d := decoder{b: rest}
	at := 0
	for slot := lo; slot < lo+n; slot++ {
		idLen := int(min(d.uvarint(), uint64(len(ids)-at)+1))
		if idLen == 0 {
			continue
		}
		if at+idLen > len(ids) {
			return fmt.Errorf("%w: slot %d: ID cut short", errSnapshot, slot)
		}
		id := ids[at : at+idLen] // shares the chunk's one string of IDs
		at += idLen
		g, nv := d.uvarint(), d.uvarint()
		if g >= uint64(len(groups)) || nv == 0 || nv > uint64(len(d.b)) {
			return fmt.Errorf("%w: slot %d", errSnapshot, slot)
		}
		vols := make([]vol, nv)
		for j := range vols {
			v := &vols[j]
			v.lower, v.upper, v.start, v.end = d.float(), d.float(), d.float(), d.float()
			fp, err := d.footprint(d.byte(), true)
			if err != nil {
				return fmt.Errorf("slot %d: %w", slot, err)
			}
			v.fp = fp
			if d.short {
				return fmt.Errorf("%w: slot %d is cut short", errSnapshot, slot)
			}
		}
		ix.entries[slot] = entry{id: id, group: groups[g], vols: vols}
		ix.hulls[slot] = hullOf(vols)
	}
	if d.short || len(d.b) != 0 || at != len(ids) {
		return fmt.Errorf("%w: chunk at slot %d: %d bytes left over", errSnapshot, lo, len(d.b))
	}
	return nil
}
