package geo

import (
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
