package mechanism

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	dc "github.com/deconflict/deconflict"
)

// Several processes may serve one store (replicas on PostgreSQL). Every
// write transaction catches the index up with what the others committed
// (catchUp) before it decides, so writes are exact without this file. What
// follows keeps the rest fresh and cheap: streams wake when another
// process commits, what-if checks see its operations, writes catch up
// before they take the store's lock, and an index left dirty by a failed
// write is reloaded before it is used again.

// Replicas is the part of the mechanism that works with the other
// processes serving the same store: being woken by their commits, handing
// declarations to the writer replica, and running those another replica
// handed over. It is a view over the same Mechanism, kept as its own type
// so that surface can be read alone.
type Replicas struct{ m *Mechanism }

// Replicas returns the replica view of m.
func (m *Mechanism) Replicas() Replicas { return Replicas{m: m} }

// replica is what the writer knows of other processes' commits.
type replica struct {
	stale atomic.Bool  // another process may have committed operations since the index last caught up
	seen  atomic.Int64 // the highest seq the index is known to reflect
	// dirty: a write failed and so did the reload after it; the index may
	// hold changes never committed. The next write or catch-up reloads.
	dirty atomic.Bool
	// following: a catch-up in the background is due (see wake).
	following atomic.Bool
}

// followDelay is how long after another process's commit a replica that
// hands its declarations to the writer (forward.go) catches its index up
// in the background: what commits meanwhile is read at the same time.
const followDelay = 100 * time.Millisecond

// Wake tells the mechanism that events up to seq were committed, perhaps
// by another process sharing its store (as a PostgreSQL LISTEN/NOTIFY
// listener learns); seq 0 means it may have missed some. Streams and
// webhook delivery waiting on Changed wake at once instead of at their
// next poll, and if seq is beyond what the index reflects, the next
// what-if check or write first brings the index up to date.
func (rp Replicas) Wake(seq int64) {
	m := rp.m
	if seq <= 0 || seq > m.writer.replica.seen.Load() {
		m.checkSet.forget() // the settings may have changed too
	}
	m.writer.wake(seq)
	m.notify()
}

// wake marks the index stale if seq is beyond what it reflects (or 0).
// A replica that hands its declarations to the writer runs no batches
// that would catch it up, so it catches up in the background soon after:
// its what-if checks then find little to read, and its lists by box few
// operations changed since the index looked.
func (w *writer) wake(seq int64) {
	if seq <= 0 || seq > w.replica.seen.Load() {
		w.replica.stale.Store(true)
		if w.forwarding() && w.replica.following.CompareAndSwap(false, true) {
			time.AfterFunc(followDelay, func() {
				w.replica.following.Store(false)
				_ = w.freshen(context.Background())
			})
		}
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
		return w.catchUpRead(ctx, tx)
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

// catchUpRead is catchUp in a read transaction: from the compact
// geometries of the operations changed, where the store keeps them, which
// need no parsing. It is called with w.mu held.
func (w *writer) catchUpRead(ctx context.Context, tx dc.Tx) error {
	gtx, ok := tx.(dc.GeometriesSinceTx)
	if !ok {
		return w.catchUp(ctx, tx, &w.stats.CaughtUpAhead)
	}
	last, err := tx.LastSeq(ctx)
	if err != nil {
		return err
	}
	if last <= w.rev {
		w.replica.seen.Store(w.rev)
		return nil
	}
	ix := w.index.Load()
	err = gtx.GeometriesSince(ctx, w.rev, func(g *dc.LiveGeometry, live bool) error {
		w.views.drop(g.ID)
		w.stats.CaughtUpAhead.Add(1)
		if !live {
			ix.Remove(g.ID)
			return nil
		}
		vols, err := liveVolumes(g)
		if err != nil {
			return err
		}
		ix.Insert(g.ID, g.Party, vols)
		return nil
	})
	if err != nil {
		return fmt.Errorf("catch up index: %w", err)
	}
	w.rev = last
	w.replica.seen.Store(last)
	return nil
}
