package geo

import (
	"math"
	"slices"
	"testing"
)

// TestKeySet checks the chunked set against a sorted slice through
// random insertions, deletions and range scans.
func TestKeySet(t *testing.T) {
	r := newRand(t)
	var s keySet
	var want []uint64
	for i := range cases(20_000) {
		k := r.Uint64N(3000)
		j, found := slices.BinarySearch(want, k)
		if r.IntN(3) > 0 {
			if got := s.insert(k); got == found {
				t.Fatalf("step %d: insert(%d) = %v", i, k, got)
			}
			if !found {
				want = slices.Insert(want, j, k)
			}
		} else {
			if got := s.delete(k); got != found {
				t.Fatalf("step %d: delete(%d) = %v", i, k, got)
			}
			if found {
				want = slices.Delete(want, j, j+1)
			}
		}
		if s.len() != len(want) {
			t.Fatalf("step %d: len %d, want %d", i, s.len(), len(want))
		}
		if i%97 == 0 {
			from, to := r.Uint64N(3000), r.Uint64N(3000)
			var got []uint64
			s.ascend(from, to, func(k uint64) bool { got = append(got, k); return true })
			lo, _ := slices.BinarySearch(want, from)
			hi, _ := slices.BinarySearch(want, to+1)
			if exp := want[lo:max(lo, hi)]; !slices.Equal(got, exp) {
				t.Fatalf("step %d: ascend(%d, %d) = %v, want %v", i, from, to, got, exp)
			}
		}
	}
}

// TestKeySearches checks the seeks of a search (searchKeys, gallopKeys
// from any position at or before the answer, searchAll over several
// slices at once) against slices.BinarySearch, on sorted keys of every
// length up to a few hundred, with repeats and keys absent.
func TestKeySearches(t *testing.T) {
	r := newRand(t)
	for i := range cases(3000) {
		n := r.IntN(300)
		if i%10 == 0 {
			n = r.IntN(4)
		}
		keys := make([]uint64, n)
		for k := range keys {
			keys[k] = r.Uint64N(uint64(2*n + 2))
		}
		slices.Sort(keys)
		for range 10 {
			x := r.Uint64N(uint64(2*n + 4))
			want, _ := slices.BinarySearch(keys, x)
			if got := searchKeys(keys, x); got != want {
				t.Fatalf("searchKeys(%v, %d) = %d, want %d", keys, x, got, want)
			}
			j := r.IntN(want + 1)
			if got := gallopKeys(keys, j, x); got != want {
				t.Fatalf("gallopKeys(%v, %d, %d) = %d, want %d", keys, j, x, got, want)
			}
		}
		// searchAll: the slices of keys that start at random places, each
		// of its own length.
		m := 1 + r.IntN(6)
		x := r.Uint64N(uint64(2*n + 4))
		all, at := make([][]uint64, m), make([]int, m)
		want := make([]int, m)
		for k := range all {
			lo := r.IntN(n + 1)
			all[k] = keys[lo : lo+r.IntN(n-lo+1)]
			want[k], _ = slices.BinarySearch(all[k], x)
		}
		searchAll(slices.Clone(all), x, at)
		if !slices.Equal(at, want) {
			t.Fatalf("searchAll(%v, %d) = %v, want %v", all, x, at, want)
		}
	}
}

// TestKeySetTopKeys fills a set of several chunks with the largest keys,
// the largest of all among them, in any order, and checks that it stays
// sorted and finds and removes each: a seek for the largest key must not
// wrap around to the first chunk.
func TestKeySetTopKeys(t *testing.T) {
	r := newRand(t)
	for range cases(20) {
		keys := make([]uint64, chunkMax*2+r.IntN(chunkMax))
		for i := range keys {
			keys[i] = math.MaxUint64 - uint64(i)
		}
		r.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
		var s keySet
		for _, k := range keys {
			if !s.insert(k) {
				t.Fatalf("insert(%#x) = false", k)
			}
		}
		var got []uint64
		s.ascend(0, math.MaxUint64, func(k uint64) bool { got = append(got, k); return true })
		want := slices.Sorted(slices.Values(keys))
		if !slices.Equal(got, want) {
			t.Fatalf("%d chunks hold %d keys out of order (last %#x), want %d from %#x to %#x",
				len(s.chunks), len(got), got[len(got)-1], len(want), want[0], want[len(want)-1])
		}
		for _, k := range keys {
			if !s.delete(k) {
				t.Fatalf("delete(%#x) = false", k)
			}
		}
		if s.len() != 0 || len(s.chunks) != 0 {
			t.Fatalf("after deleting all: len %d, %d chunks", s.len(), len(s.chunks))
		}
	}
}
