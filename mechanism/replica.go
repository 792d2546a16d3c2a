package mechanism

import (
	"context"
	"sync/atomic"

	dc "github.com/deconflict/deconflict"
)

// Several processes may serve one store (replicas on PostgreSQL). Every
// write transaction catches the index up with what the others committed
// (catchUp) before it decides, so writes are exact without this file. What
// follows keeps the rest fresh and cheap: streams wake when another
// process commits, what-if checks see its operations, writes catch up
// before they take the store's lock, and an index left dirty by a failed
// write is reloaded before it is used again.

// replica is what a mechanism knows of other processes' commits.
type replica struct {
	stale atomic.Bool  // another process may have committed operations since the index last caught up
	seen  atomic.Int64 // the highest seq the index is known to reflect
	// dirty: a write failed and so did the reload after it; the index may
	// hold changes never committed. The next write or catch-up reloads.
	dirty atomic.Bool
}

// Wake tells the mechanism that events up to seq were committed, perhaps
// by another process sharing its store (as a PostgreSQL LISTEN/NOTIFY
// listener learns); seq 0 means it may have missed some. Streams and
// webhook delivery waiting on Changed wake at once instead of at their
// next poll, and if seq is beyond what the index reflects, the next
// what-if check or write first brings the index up to date.
func (m *Mechanism) Wake(seq int64) {
	if seq <= 0 || seq > m.replica.seen.Load() {
		m.replica.stale.Store(true)
	}
	m.notify()
}

// freshen catches the index up with operations other processes committed,
// if Wake said there may be some. Writes do this themselves inside their
// transaction; reads that use the index (Check) call freshen first.
func (m *Mechanism) freshen(ctx context.Context) error {
	if !m.replica.stale.Load() && !m.replica.dirty.Load() {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.catchUpView(ctx)
}

// catchUpOutside catches the index up with other processes' commits in a
// read transaction, before a write transaction takes the store's write
// lock, if Wake said there may be some. The write transaction still
// catches up first thing, but only with what was committed meanwhile, so
// parsing and indexing the other replicas' declarations does not happen
// while every replica waits for the lock. It is called with m.mu held. A
// failure here is left to the write transaction, which catches up anyway.
func (m *Mechanism) catchUpOutside(ctx context.Context) {
	if m.replica.stale.Load() || m.replica.dirty.Load() {
		_ = m.catchUpView(ctx)
	}
}

// catchUpView brings the index up to date in a read transaction: a catch-up
// if it may lag, a reload if a failed write may have left it dirty. It is
// called with m.mu held.
func (m *Mechanism) catchUpView(ctx context.Context) error {
	dirty := m.replica.dirty.Load()
	if !m.replica.stale.Swap(false) && !dirty {
		return nil
	}
	err := m.store.View(ctx, func(tx dc.Tx) error {
		if dirty {
			return m.reload(ctx, tx)
		}
		return m.catchUp(ctx, tx)
	})
	if err != nil {
		m.replica.stale.Store(true) // try again next time
		return err
	}
	if dirty {
		m.replica.dirty.Store(false)
	}
	return nil
}
