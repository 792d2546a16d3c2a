package mechanism

import (
	"context"
	"sync/atomic"

	dc "github.com/deconflict/deconflict"
)

// Several processes may serve one store (replicas on PostgreSQL). Writes
// need nothing from this file: every write transaction catches the index
// up with what the others committed (catchUp) before it decides. What
// follows keeps the rest fresh: streams wake when another process commits,
// and what-if checks see its operations.

// replica is what a mechanism knows of other processes' commits.
type replica struct {
	stale atomic.Bool // another process may have committed operations since the index last caught up
}

// Wake tells the mechanism that events were committed, perhaps by another
// process sharing its store (as a PostgreSQL LISTEN/NOTIFY listener
// learns). Streams and webhook delivery waiting on Changed wake at once
// instead of at their next poll, and the next what-if check first brings
// the index up to date.
func (m *Mechanism) Wake() {
	m.replica.stale.Store(true)
	m.notify()
}

// freshen catches the index up with operations other processes committed,
// if Wake said there may be some. Writes do this themselves inside their
// transaction; reads that use the index (Check) call freshen first.
func (m *Mechanism) freshen(ctx context.Context) error {
	if !m.replica.stale.Swap(false) {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	err := m.store.View(ctx, func(tx dc.Tx) error { return m.catchUp(ctx, tx) })
	if err != nil {
		m.replica.stale.Store(true) // try again next time
	}
	return err
}

// catchUpOutside catches the index up with other processes' commits in a
// read transaction, before a write transaction takes the store's write
// lock, if Wake said there may be some. The write transaction still
// catches up first thing, but only with what was committed meanwhile:
// parsing and indexing the other replicas' declarations no longer happens
// while every replica waits for the lock. It is called with m.mu held. A
// failure here is left to the write transaction, which catches up anyway.
func (m *Mechanism) catchUpOutside(ctx context.Context) {
	if !m.replica.stale.Swap(false) {
		return
	}
	if err := m.store.View(ctx, func(tx dc.Tx) error { return m.catchUp(ctx, tx) }); err != nil {
		m.replica.stale.Store(true)
	}
}
