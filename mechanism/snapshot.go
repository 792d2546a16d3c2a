package mechanism

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/geo"
	"github.com/deconflict/deconflict/mechanism/snapshot"
)

// The index snapshot file (package snapshot) lets a restart skip reading
// every live operation: Load starts from it when it matches the store.
// What follows gives the file the index: how it is frozen to be saved,
// caught up once loaded, and put in place.

// Index is the part of the mechanism that looks after its index of live
// operations as a whole: how many it holds, and the snapshot file a
// restart loads it from. It is a view over the same Mechanism, kept as
// its own type so that surface can be read alone.
type Index struct{ m *Mechanism }

// Index returns the index view of m.
func (m *Mechanism) Index() Index { return Index{m: m} }

// SaveIndex writes the index to the snapshot file of Options.IndexSnapshot
// (nothing if there is none), replacing the last one atomically; the
// next Load starts from it. Writes wait only while the index is copied
// (geo.Index.Freeze), not while it is written out and synced, which takes
// many times longer.
func (ix Index) SaveIndex(ctx context.Context) error {
	m := ix.m
	if m.snapshots == nil {
		return nil
	}
	return m.snapshots.Save(ctx, snapshotIndex{m.writer})
}

// RunIndexSnapshots keeps the index snapshot file fresh until ctx ends:
// at once if the file does not hold the index as loaded, then every
// interval if the index changed, and also as soon as afterEvents events
// were logged since the last save (0: only by time), but not more often
// than once a snapshotGap (see snapshot.File.Run).
func (ix Index) RunIndexSnapshots(ctx context.Context, every time.Duration, afterEvents int64) {
	m := ix.m
	if m.snapshots == nil {
		return
	}
	m.snapshots.Run(ctx, snapshotIndex{m.writer}, snapshot.Schedule{Every: every, AfterEvents: afterEvents, MinGap: snapshotGap})
}

// snapshotGap is the least time between two saves of the snapshot
// triggered by the number of events.
var snapshotGap = time.Minute

// snapshotIndex is the writer's index as the snapshot file sees it
// (snapshot.Index, snapshot.Target).
type snapshotIndex struct{ w *writer }

func (s snapshotIndex) Rev() int64 {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	return s.w.rev
}

func (s snapshotIndex) Freeze() (*geo.Frozen, int64, error) {
	w := s.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.replica.dirty.Load() {
		return nil, 0, errors.New("the index waits to be reloaded after a failed write")
	}
	return w.index.Load().Freeze(), w.rev, nil
}

func (s snapshotIndex) CatchUp(ctx context.Context, tx dc.Tx, ix *geo.Index, rev int64) (int, error) {
	return applySince(ctx, tx, ix, rev)
}

// Use is called with w.mu held (by writer.load).
func (s snapshotIndex) Use(ctx context.Context, tx dc.Tx, ix *geo.Index, last int64) error {
	return s.w.install(ctx, tx, ix, last)
}

// applySince applies to ix the operations changed since rev, decoding
// their kept geometries (or parsing them) and filing them on every core
// (each operation comes once, so the order does not matter), and returns
// how many there were.
func applySince(ctx context.Context, tx dc.Tx, ix *geo.Index, rev int64) (int, error) {
	type change struct {
		g    *dc.LiveGeometry
		live bool
	}
	changes := make(chan change, 256)
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
		failed   atomic.Bool
	)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range changes {
				if failed.Load() {
					continue
				}
				if !c.live {
					ix.Remove(c.g.ID)
					continue
				}
				vols, err := liveVolumes(c.g)
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					failed.Store(true)
					continue
				}
				ix.Insert(c.g.ID, c.g.Party, vols)
			}
		}()
	}
	n := 0
	send := func(g *dc.LiveGeometry, live bool) error {
		if failed.Load() {
			return errStop
		}
		n++
		changes <- change{g, live}
		return nil
	}
	var err error
	if gtx, ok := tx.(dc.GeometriesSinceTx); ok {
		err = gtx.GeometriesSince(ctx, rev, send)
	} else {
		err = tx.OperationsSince(ctx, rev, false, func(op *dc.Operation) error {
			return send(&dc.LiveGeometry{ID: op.ID, Party: op.Party, Operation: op}, op.State.Live())
		})
	}
	close(changes)
	wg.Wait()
	if firstErr != nil {
		return n, firstErr
	}
	return n, err
}
