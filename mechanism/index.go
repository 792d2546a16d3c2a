package mechanism

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/geo"
	"github.com/deconflict/deconflict/mechanism/snapshot"
)

// The writer's index of live operations: loaded once at start (from the
// store or a snapshot file), caught up with other processes' commits at
// the start of every write transaction, and searched for the conflicts of
// a declaration, ahead of the write lock and again inside the batch.

// load fills the index with every live operation of the store, from the
// snapshot file if there is one that matches the store.
func (w *writer) load(ctx context.Context, snapshots *snapshot.File) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	start := time.Now()
	if snapshots != nil {
		caughtUp, why := snapshots.Load(ctx, snapshotIndex{w})
		if why == nil {
			w.log.Info("index loaded", slog.String("from", "snapshot"), slog.String("file", snapshots.Path()),
				slog.Int("live_operations", w.index.Load().Len()), slog.Int("changed_since", caughtUp), slog.Duration("took", time.Since(start)))
			return nil
		}
		w.log.Info("index snapshot not used: loading from the store", slog.String("file", snapshots.Path()), slog.String("reason", why.Error()))
	}
	if err := w.store.View(ctx, func(tx dc.Tx) error { return w.reload(ctx, tx) }); err != nil {
		return err
	}
	w.log.Info("index loaded", slog.String("from", "store"), slog.Int("live_operations", w.index.Load().Len()), slog.Duration("took", time.Since(start)))
	return nil
}

// reload builds the index afresh from the store. It is called with w.mu
// held.
func (w *writer) reload(ctx context.Context, tx dc.Tx) error {
	last, err := tx.LastSeq(ctx)
	if err != nil {
		return fmt.Errorf("load index: %w", err)
	}
	index, err := loadIndex(ctx, tx)
	if err != nil {
		return fmt.Errorf("load index: %w", err)
	}
	return w.install(ctx, tx, index, last)
}

// install makes ix, which reflects the store up to event seq last, the
// index checks and writes use: a load from the store and one from the
// snapshot file end the same way. It is called with w.mu held.
func (w *writer) install(ctx context.Context, tx dc.Tx, ix *geo.Index, last int64) error {
	open, err := countOpenConflicts(ctx, tx)
	if err != nil {
		return fmt.Errorf("count open conflicts: %w", err)
	}
	w.index.Store(ix)
	w.views.clear()
	w.rev = last
	w.replica.seen.Store(last)
	w.stats.setOpenConflicts(open)
	return nil
}

// catchUp brings the index up to date with operations changed by other
// processes, and counts them in counter. It runs inside a write
// transaction, where nobody else can change operations, or a read
// transaction, with w.mu held.
func (w *writer) catchUp(ctx context.Context, tx dc.Tx, counter *atomic.Int64) error {
	last, err := tx.LastSeq(ctx)
	if err != nil {
		return err
	}
	if last <= w.rev {
		w.replica.seen.Store(w.rev)
		return nil
	}
	err = tx.OperationsSince(ctx, w.rev, false, func(op *dc.Operation) error {
		w.views.drop(op.ID)
		counter.Add(1)
		return indexOperation(w.index.Load(), op)
	})
	if err != nil {
		return fmt.Errorf("catch up index: %w", err)
	}
	w.rev = last
	w.replica.seen.Store(last)
	return nil
}

// loadIndex builds the index of every live operation of the store. A
// store that keeps compact geometries (dc.GeometryTx) gives them without
// the operation documents; they are decoded, or the documents of
// operations stored without one parsed, on every core while the store is
// read, and the index is then built at once (geo.BuildIndex).
func loadIndex(ctx context.Context, tx dc.Tx) (*geo.Index, error) {
	workers := runtime.GOMAXPROCS(0)
	type item struct {
		g   *dc.LiveGeometry
		pos int
	}
	items := make(chan item, 1024)
	var (
		mu       sync.Mutex
		entries  []geo.Entry
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
		failed   atomic.Bool
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err })
		failed.Store(true)
	}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range items {
				if failed.Load() {
					continue
				}
				vols, err := liveVolumes(it.g)
				if err != nil {
					fail(err)
					continue
				}
				mu.Lock()
				entries[it.pos].Volumes = vols
				mu.Unlock()
			}
		}()
	}
	parties := map[string]string{} // one string per party
	walk := func(g *dc.LiveGeometry) error {
		if failed.Load() {
			return errStop
		}
		party, ok := parties[g.Party]
		if !ok {
			party = g.Party
			parties[party] = party
		}
		mu.Lock()
		entries = append(entries, geo.Entry{ID: g.ID, Group: party})
		pos := len(entries) - 1
		mu.Unlock()
		items <- item{g, pos}
		return nil
	}
	var err error
	if gtx, ok := tx.(dc.GeometryTx); ok {
		err = gtx.LiveGeometries(ctx, walk)
	} else {
		err = tx.OperationsSince(ctx, 0, true, func(op *dc.Operation) error {
			return walk(&dc.LiveGeometry{ID: op.ID, Party: op.Party, Operation: op})
		})
	}
	close(items)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err != nil {
		return nil, err
	}
	return geo.BuildIndex(entries), nil
}

// liveVolumes returns the volumes of a live operation from its compact
// geometry or, without one, from the operation.
func liveVolumes(g *dc.LiveGeometry) ([]geo.Volume, error) {
	if g.Geometry != nil {
		vols, err := geo.DecodeVolumes(g.Geometry)
		if err != nil {
			return nil, fmt.Errorf("stored geometry of operation %s: %w", g.ID, err)
		}
		return vols, nil
	}
	vols, err := geo.ParseVolumes(g.Operation.Volumes, "volumes")
	if err != nil {
		return nil, fmt.Errorf("stored operation %s does not parse: %w", g.ID, err)
	}
	return vols, nil
}

// errStop ends a walk of the store early.
var errStop = errors.New("stop")

// indexOperation puts a stored operation into the index, or takes it out
// if it is no longer live.
func indexOperation(index *geo.Index, op *dc.Operation) error {
	if !op.State.Live() {
		index.Remove(op.ID)
		return nil
	}
	vols, err := geo.ParseVolumes(op.Volumes, "volumes")
	if err != nil {
		return fmt.Errorf("stored operation %s does not parse: %w", op.ID, err)
	}
	index.Insert(op.ID, op.Party, vols)
	return nil
}

// countOpenConflicts counts the open conflicts of the store.
func countOpenConflicts(ctx context.Context, tx dc.Tx) (int64, error) {
	if c, ok := tx.(dc.ConflictCounter); ok {
		return c.CountConflicts(ctx, dc.ConflictOpen)
	}
	var n int64
	f := dc.ConflictFilter{Statuses: []dc.ConflictStatus{dc.ConflictOpen}, Limit: 10000}
	for {
		page, next, err := tx.Conflicts(ctx, f)
		if err != nil {
			return 0, err
		}
		n += int64(len(page))
		if next == "" {
			return n, nil
		}
		f.After = next
	}
}

// minimaOf returns the separation minima of the settings.
func minimaOf(s dc.Settings) geo.Minima {
	return geo.Minima{HorizontalM: s.HorizontalM, VerticalM: s.VerticalM, TimeS: s.TimeS}
}

// aheadCheck is the conflict check of a declaration's volumes, searched
// in the index before the declaration reaches the writer: the search is
// most of a check's time, and the single writer is what limits how many
// declarations a second commit, while the requests waiting for it run on
// the other cores.
type aheadCheck struct {
	ix     *geo.Index
	agreed *agreement
	party  string
	hits   []geo.Hit
	gen    uint64
}

// searchAhead searches the conflicts of vols, declared by party, with the
// agreement of the last batch; nil before the first batch.
func (w *writer) searchAhead(vols []geo.Volume, party string) *aheadCheck {
	ag := w.agreed.Load()
	if ag == nil {
		return nil
	}
	ix := w.index.Load()
	hits, gen := ix.ConflictsAtPairs(vols, ag.forParty(party), party)
	return &aheadCheck{ix: ix, agreed: ag, party: party, hits: hits, gen: gen}
}

// conflictHits returns the entries of the index, with the batch's changes
// made, that conflict under the batch's agreed minima with the change's
// volumes, from another party than party. A check searched ahead is
// brought up to date with what changed in the index since (exactly what
// a search now would answer); if the index was replaced, the agreement
// changed or too much changed, it searches.
func (w *writer) conflictHits(ch *change, b *batchState, party string) []geo.Hit {
	pm := b.agreed.forParty(party)
	ix := w.index.Load()
	var hits []geo.Hit
	ok := false
	if a := ch.ahead; a != nil && a.ix == ix && a.agreed == b.agreed && a.party == party {
		hits, ok = ix.SincePairs(a.hits, a.gen, ch.vols, pm, party)
	}
	if ok {
		w.stats.ChecksAhead.Add(1)
	} else {
		w.stats.ChecksInBatch.Add(1)
		hits, _ = ix.ConflictsAtPairs(ch.vols, pm, party)
	}
	return b.index.AmendPairs(hits, ch.vols, pm, party)
}
