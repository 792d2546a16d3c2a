package mechanism

import (
	"sync"

	dc "github.com/deconflict/deconflict"
	"golang.org/x/mod/sumdb/tlog"
)

// A peer node's receipt of a version of one of this node's operations
// names the entry of this node's log it received; the node checks that
// entry before keeping the receipt (CheckReceivedEntries). Receipts
// arrive seconds after the version was logged, so the writer remembers
// the entry of each version it logged on a node that has peers, once its
// batch committed, and the check reads the log only for versions it
// forgot. A logged entry never changes, so what is remembered stays
// true; a batch that failed remembers nothing.

// versionEvents are the types of the entries that carry a new version
// of an operation.
var versionEvents = map[string]bool{
	dc.EventOperationDeclared: true, dc.EventOperationUpdated: true, dc.EventOperationActivated: true,
	dc.EventOperationEnded: true, dc.EventOperationCancelled: true,
}

// federated reports whether the node has peers (or had: their parties
// stay hosted elsewhere).
func (m *Mechanism) federated() bool {
	r := m.fed.remote.Load()
	return r != nil && len(*r) > 0
}

// maxLoggedVersions is how many versions the writer remembers: more than
// a catch-up of thousands of declarations holds.
const maxLoggedVersions = 1 << 15

// loggedVersion is a version of an operation of this node's as its log
// holds it: the log index of the version's first entry, that entry's
// leaf hash, and the operation, its party and version.
type loggedVersion struct {
	index   int64
	leaf    tlog.Hash
	op      string
	party   string
	version int
}

// loggedVersions are the versions the writer logged last, by log index.
type loggedVersions struct {
	mu    sync.Mutex
	by    map[int64]loggedVersion
	order []int64 // the indexes in the order remembered, a ring
	next  int     // where the next one goes in order
}

func newLoggedVersions() *loggedVersions {
	return &loggedVersions{by: map[int64]loggedVersion{}, order: make([]int64, 0, maxLoggedVersions)}
}

// add remembers v, forgetting the oldest when full.
func (l *loggedVersions) add(v loggedVersion) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.order) < maxLoggedVersions {
		l.order = append(l.order, v.index)
	} else {
		delete(l.by, l.order[l.next])
		l.order[l.next] = v.index
		l.next = (l.next + 1) % maxLoggedVersions
	}
	l.by[v.index] = v
}

// at returns the version whose first entry is at index, if remembered.
func (l *loggedVersions) at(index int64) (loggedVersion, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	v, ok := l.by[index]
	return v, ok
}
