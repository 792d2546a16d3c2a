package geo

import (
	"math"
	"math/bits"
	"slices"
)

// keySet is a sorted set of uint64 keys kept in chunks of at most
// chunkMax keys, with the first key of every chunk in an array of its
// own: a seek is two binary searches over contiguous memory, an insertion
// or deletion moves at most one chunk. It does the job of a B-tree with
// fewer indirections and 8 bytes a key.
type keySet struct {
	firsts []uint64
	chunks [][]uint64
	n      int
}

const chunkMax = 256

// chunk returns the chunk where k belongs: the last whose first key is
// at most k, or the first.
func (s *keySet) chunk(k uint64) int {
	if k == math.MaxUint64 { // k+1 would wrap around to 0
		return max(len(s.firsts)-1, 0)
	}
	return max(searchKeys(s.firsts, k+1)-1, 0)
}

// searchKeys returns the position of the first key of the sorted keys
// that is at least k (len(keys) if none is), as slices.BinarySearch
// does. Each step halves the range by a conditional move rather than a
// branch, which a search in data it has not seen mispredicts half the
// time.
func searchKeys(keys []uint64, k uint64) int {
	n := len(keys)
	if n == 0 {
		return 0
	}
	base := 0
	for n > 1 {
		half := n >> 1
		// borrow is 1 when the key before the upper half is below k.
		_, borrow := bits.Sub64(keys[base+half-1], k, 0)
		base += half & -int(borrow)
		n -= half
	}
	_, borrow := bits.Sub64(keys[base], k, 0)
	return base + int(borrow)
}

// insert adds k and reports whether it was not there.
func (s *keySet) insert(k uint64) bool {
	if len(s.chunks) == 0 {
		s.chunks = [][]uint64{append(make([]uint64, 0, chunkMax), k)}
		s.firsts = []uint64{k}
		s.n = 1
		return true
	}
	i := s.chunk(k)
	c := s.chunks[i]
	j, found := slices.BinarySearch(c, k)
	if found {
		return false
	}
	s.n++
	if len(c) < chunkMax {
		s.chunks[i] = slices.Insert(c, j, k)
		s.firsts[i] = s.chunks[i][0]
		return true
	}
	// Split a full chunk in two, then insert.
	right := append(make([]uint64, 0, chunkMax), c[chunkMax/2:]...)
	left := c[:chunkMax/2]
	if j <= chunkMax/2 {
		left = slices.Insert(left, j, k)
	} else {
		right = slices.Insert(right, j-chunkMax/2, k)
	}
	s.chunks[i] = left
	s.chunks = slices.Insert(s.chunks, i+1, right)
	s.firsts[i] = left[0]
	s.firsts = slices.Insert(s.firsts, i+1, right[0])
	return true
}

// delete removes k and reports whether it was there.
func (s *keySet) delete(k uint64) bool {
	if len(s.chunks) == 0 {
		return false
	}
	i := s.chunk(k)
	c := s.chunks[i]
	j, found := slices.BinarySearch(c, k)
	if !found {
		return false
	}
	s.n--
	c = slices.Delete(c, j, j+1)
	if len(c) == 0 {
		s.chunks = slices.Delete(s.chunks, i, i+1)
		s.firsts = slices.Delete(s.firsts, i, i+1)
		return true
	}
	s.chunks[i], s.firsts[i] = c, c[0]
	// Merge a small chunk into a neighbour, so chunks stay a quarter full.
	if len(c) < chunkMax/4 {
		if i+1 < len(s.chunks) && len(c)+len(s.chunks[i+1]) <= chunkMax*3/4 {
			s.chunks[i] = append(c, s.chunks[i+1]...)
			s.chunks = slices.Delete(s.chunks, i+1, i+2)
			s.firsts = slices.Delete(s.firsts, i+1, i+2)
		} else if i > 0 && len(c)+len(s.chunks[i-1]) <= chunkMax*3/4 {
			s.chunks[i-1] = append(s.chunks[i-1], c...)
			s.chunks = slices.Delete(s.chunks, i, i+1)
			s.firsts = slices.Delete(s.firsts, i, i+1)
		}
	}
	return true
}

// searchAll sets at[k] to searchKeys(keys[k], x) for each k, taking the
// steps of the searches in turn, so that one search's read from memory
// need not wait for another's. It leaves keys[k] a slice of what it was.
func searchAll(keys [][]uint64, x uint64, at []int) {
	more := true
	for k := range keys {
		at[k] = 0
	}
	for more {
		more = false
		for k, ks := range keys {
			n := len(ks) // ks is the part of the keys still searched, from at[k]
			if n <= 1 {
				continue
			}
			half := n >> 1
			_, borrow := bits.Sub64(ks[half-1], x, 0)
			step := half & -int(borrow)
			at[k] += step
			keys[k] = ks[step : step+n-half]
			more = true
		}
	}
	for k, ks := range keys {
		if len(ks) == 1 {
			_, borrow := bits.Sub64(ks[0], x, 0)
			at[k] += int(borrow)
		}
	}
}

// gallopKeys returns the position of the first key of the sorted keys
// that is at least k, given that no key before position j is: the
// search looks at j, then 1, 3, 7, ... keys further on, and searches
// the last of those steps, so that it costs the logarithm of the
// distance from j.
func gallopKeys(keys []uint64, j int, k uint64) int {
	if j >= len(keys) || keys[j] >= k {
		return j
	}
	lo, step := j+1, 1 // every key before lo is below k
	for {
		hi := lo + step
		if hi >= len(keys) {
			return lo + searchKeys(keys[lo:], k)
		}
		if keys[hi] >= k {
			return lo + searchKeys(keys[lo:hi], k)
		}
		lo, step = hi+1, 2*step
	}
}

func (s *keySet) len() int { return s.n }

// ascend calls visit with the keys in [from, to] in order, until it
// returns false.
func (s *keySet) ascend(from, to uint64, visit func(uint64) bool) {
	if len(s.chunks) == 0 {
		return
	}
	i := s.chunk(from)
	j := searchKeys(s.chunks[i], from)
	for ; i < len(s.chunks); i, j = i+1, 0 {
		for _, k := range s.chunks[i][j:] {
			if k > to || !visit(k) {
				return
			}
		}
	}
}
