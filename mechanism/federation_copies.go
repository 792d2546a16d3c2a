package mechanism

import (
	"sync"

	"golang.org/x/mod/sumdb/tlog"
)

// A federated log holds a copy of every entry of its peers' it applied
// (withOrigin), and a peer is sent only the leaf hash of each (isCopy).
// Telling a copy from the node's own entry by its body means reading
// and decoding it, for each copy of each page served, so the node
// remembers the copies it appended itself: the log index and leaf hash
// of each, which spare a page the rows of those copies. That
// memory is a hint, never the answer: serving a page (PeerLog) withholds
// a remembered entry only when the log, in the page's own transaction,
// holds that very leaf hash at that index, so the entry is byte for byte
// the copy appended. A transaction that appended a copy and then rolled
// back leaves its hint behind, and the entry later logged at that index
// has another leaf hash: it is judged by its body, as one the node never
// remembered is (after a restart, or written by another process).

// copyBody is the body of a copy of a peer's entry, as withOrigin wrote
// it: JSON that json.Marshal wrote, with "replicated" last.
type copyBody []byte

// maxCopyHints is how many copies the node remembers: more than a page
// of its log a peer that follows it asks for holds.
const maxCopyHints = 1 << 14

// copyHints are the copies this process appended last, by log index.
type copyHints struct {
	mu    sync.Mutex
	by    map[int64]tlog.Hash
	order []int64 // the indexes in the order remembered, a ring
	next  int     // where the next one goes in order
}

// add remembers that the copy of leaf hash leaf was appended at index,
// forgetting the oldest when full.
func (c *copyHints) add(index int64, leaf tlog.Hash) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.by == nil {
		c.by = map[int64]tlog.Hash{}
	}
	if _, ok := c.by[index]; ok {
		c.by[index] = leaf // a rolled-back copy's index, appended again
		return
	}
	if len(c.order) < maxCopyHints {
		c.order = append(c.order, index)
	} else {
		delete(c.by, c.order[c.next])
		c.order[c.next] = index
		c.next = (c.next + 1) % maxCopyHints
	}
	c.by[index] = leaf
}

// at returns the leaf hash of the copy appended at index, if remembered.
func (c *copyHints) at(index int64) (tlog.Hash, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.by[index]
	return h, ok
}

// within returns the indexes from from up to end (excluded) of the
// copies remembered, in increasing order, with their leaf hashes.
func (c *copyHints) within(from, end int64) (indexes []int64, leaves []tlog.Hash) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.by) == 0 {
		return nil, nil
	}
	for i := from; i < end; i++ {
		if h, ok := c.by[i]; ok {
			indexes, leaves = append(indexes, i), append(leaves, h)
		}
	}
	return indexes, leaves
}
