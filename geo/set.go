package geo

import "slices"

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

// chunk returns the chunk where k belongs.
func (s *keySet) chunk(k uint64) int {
	i, found := slices.BinarySearch(s.firsts, k)
	if !found && i > 0 {
		i--
	}
	return i
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

func (s *keySet) len() int { return s.n }

// ascend calls visit with the keys in [from, to] in order, until it
// returns false.
func (s *keySet) ascend(from, to uint64, visit func(uint64) bool) {
	if len(s.chunks) == 0 {
		return
	}
	i := s.chunk(from)
	j, _ := slices.BinarySearch(s.chunks[i], from)
	for ; i < len(s.chunks); i, j = i+1, 0 {
		for _, k := range s.chunks[i][j:] {
			if k > to || !visit(k) {
				return
			}
		}
	}
}
