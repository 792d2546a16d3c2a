package mechanism

import (
	"sync"
	"sync/atomic"
)

// changes wakes everyone waiting for new events: Changed returns a
// channel that is closed at the next commit.
type changes struct {
	mu  sync.Mutex
	ch  chan struct{}
	gen atomic.Uint64 // counts commits signalled
}

// Changed returns a channel closed when this process next commits events,
// or when Wake reports events committed by another process. Stores that
// cannot report other processes' commits (SQLite) leave waiters to poll.
func (m *Mechanism) Changed() <-chan struct{} {
	m.changes.mu.Lock()
	defer m.changes.mu.Unlock()
	if m.changes.ch == nil {
		m.changes.ch = make(chan struct{})
	}
	return m.changes.ch
}

// notify wakes the waiters of Changed.
func (m *Mechanism) notify() {
	m.changes.gen.Add(1)
	m.changes.mu.Lock()
	defer m.changes.mu.Unlock()
	if m.changes.ch != nil {
		close(m.changes.ch)
		m.changes.ch = nil
	}
}
