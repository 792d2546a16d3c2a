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

// replica is what the writer knows of other processes' commits.
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
	if seq <= 0 || seq > m.writer.replica.seen.Load() {
		m.checkSet.forget() // the settings may have changed too
	}
	m.writer.wake(seq)
	m.notify()
}

// wake marks the index stale if seq is beyond what it reflects (or 0).
func (w *writer) wake(seq int64) {
	if seq <= 0 || seq > w.replica.seen.Load() {
		w.replica.stale.Store(true)
	}
}

// freshen catches the index up with operations other processes committed,
// if Wake said there may be some. Writes do this themselves inside their
// transaction; reads that use the index (Check) call freshen first.
func (w *writer) freshen(ctx context.Context) error {
	if !w.replica.stale.Load() && !w.replica.dirty.Load() {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.catchUpView(ctx)
}

// catchUpOutside catches the index up with other processes' commits in a
// read transaction, before a write transaction takes the store's write
// lock, if Wake said there may be some. The write transaction still
// catches up first thing, but only with what was committed meanwhile, so
// parsing and indexing the other replicas' declarations does not happen
// while every replica waits for the lock. It is called with w.mu held. A
// failure here is left to the write transaction, which catches up anyway.
func (w *writer) catchUpOutside(ctx context.Context) {
	if w.replica.stale.Load() || w.replica.dirty.Load() {
		_ = w.catchUpView(ctx)
	}
}

// catchUpView brings the index up to date in a read transaction: a catch-up
// if it may lag, a reload if a failed write may have left it dirty. It is
// called with w.mu held.
func (w *writer) catchUpView(ctx context.Context) error {
	dirty := w.replica.dirty.Load()
	if !w.replica.stale.Swap(false) && !dirty {
		return nil
	}
	err := w.store.View(ctx, func(tx dc.Tx) error {
		if dirty {
			return w.reload(ctx, tx)
		}
		return w.catchUp(ctx, tx)
	})
	if err != nil {
		w.replica.stale.Store(true) // try again next time
		return err
	}
	if dirty {
		w.replica.dirty.Store(false)
	}
	return nil
}
