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
// or when Replicas.Wake reports events committed by another process. Stores that
// cannot report other processes' commits (SQLite) leave waiters to poll.
func (m *Mechanism) Changed() <-chan struct{} { return m.changes.changed() }

// notify wakes the waiters of Changed: every commit of events calls it.
func (m *Mechanism) notify() { m.changes.notify() }

// changed returns the channel the next notify closes.
func (c *changes) changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch == nil {
		c.ch = make(chan struct{})
	}
	return c.ch
}

// notify wakes the waiters of changed.
func (c *changes) notify() {
	c.gen.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch != nil {
		close(c.ch)
		c.ch = nil
	}
}
