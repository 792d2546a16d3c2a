package mechanism

import (
	"cmp"
	"slices"
	"sync"

	dc "github.com/deconflict/deconflict"
	"golang.org/x/mod/sumdb/tlog"
)

// A peer that follows this node pulls every few milliseconds the entries
// the writer committed last. Reading their rows back, and building their
// records again, would cost each page what the writer already had in
// hand, so on a node with peers the writer remembers, once a batch has
// committed, the record and leaf hash of each entry the batch's changes
// and receipts logged, with what decides which peers may see it (its
// type and audience, and whether it is a copy of a peer's entry). A
// committed entry never changes, so what is remembered stays true; a
// batch that failed remembers nothing, and an entry logged outside the
// writer, or forgotten, is read from the store (peerPage).

// maxRememberedEntries and maxRememberedBytes bound the entries the
// writer remembers: more than a page a following peer asks for.
const (
	maxRememberedEntries = 1 << 13
	maxRememberedBytes   = 16 << 20
)

// loggedEntry is an entry of this node's log as the writer logged it:
// its index, leaf hash and record (nil for a copy of a peer's entry,
// which a peer is sent the leaf hash of), and the event's type and
// audience (dc.Event.VisibleTo).
type loggedEntry struct {
	index    int64
	leaf     tlog.Hash
	record   []byte
	typ      string
	audience []string
}

// visibleToAny reports whether any of viewers may see the entry, as
// visibleToAny does of the event it logged.
func (e *loggedEntry) visibleToAny(viewers []dc.Actor) bool {
	ev := dc.Event{Type: e.typ, Audience: e.audience}
	return visibleToAny(&ev, viewers)
}

// rememberedEntries are the entries the writer committed last, in
// increasing index order.
type rememberedEntries struct {
	mu      sync.Mutex
	entries []loggedEntry
	bytes   int
}

// add remembers entries, committed in one batch in increasing index
// order after every entry remembered, forgetting the oldest half when
// the bounds are passed.
func (r *rememberedEntries) add(entries []loggedEntry) {
	if len(entries) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := len(r.entries); n > 0 && entries[0].index <= r.entries[n-1].index {
		// Not after the last remembered: keep the order by starting
		// over rather than searching where they go.
		r.entries, r.bytes = r.entries[:0], 0
	}
	for _, e := range entries {
		r.entries = append(r.entries, e)
		r.bytes += len(e.record)
	}
	for len(r.entries) > maxRememberedEntries || r.bytes > maxRememberedBytes {
		half := max(1, len(r.entries)/2)
		for _, e := range r.entries[:half] {
			r.bytes -= len(e.record)
		}
		r.entries = slices.Delete(r.entries, 0, half)
	}
}

// within returns the remembered entries from index from up to end
// (excluded), in increasing index order.
func (r *rememberedEntries) within(from, end int64) []loggedEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	i, _ := slices.BinarySearchFunc(r.entries, from, func(e loggedEntry, index int64) int {
		return cmp.Compare(e.index, index)
	})
	j := i
	for j < len(r.entries) && r.entries[j].index < end {
		j++
	}
	return slices.Clone(r.entries[i:j])
}
