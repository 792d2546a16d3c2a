package mechanism

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/geo"
	"github.com/deconflict/deconflict/mechanism/snapshot"
)

// Mechanism applies the rules of the mechanism to a store.
type Mechanism struct {
	// store is raw with every write's outcome followed (watchedStore);
	// raw is the store as given, for its optional interfaces.
	store  dc.Store
	raw    dc.Store
	now    func() time.Time
	log    *slog.Logger
	origin string // names the log in checkpoints of a new store
	// snapshots is the file of the index snapshot (see SaveIndex); nil
	// if none.
	snapshots *snapshot.File
	evidence  chan struct{} // one evidence bundle built at a time (see Evidence)
	egress    dc.Egress     // where webhooks may point (Options.WebhookAllow)

	// mu serialises write transactions of this process, so that the
	// index and rev change together with what was committed.
	mu    sync.Mutex
	index atomic.Pointer[geo.Index] // replaced whole on reload; readers need no lock
	// minima are the separation minima of the settings the last batch
	// read, with which a declaration searches its conflicts ahead of the
	// write lock (see searchAhead); nil before the first batch.
	minima atomic.Pointer[geo.Minima]

	// queue holds writes waiting for the writer; see write.
	queueMu sync.Mutex
	queue   []*writeRequest
	writing bool  // a caller is running batches
	rev     int64 // highest event seq whose operation changes the index reflects

	// companion keeps the state of attached writes (see Attachment).
	companion Companion
	// noReceipts tells the parties that give no receipts (SetNoReceipts);
	// nil: every party gives them.
	noReceipts func(party string) bool

	stats     Stats
	integrity integrity
	writes    writeHealth
	tokens    tokenCache
	changes   changes
	tail      tail
	replica   replica
}

// Options configure a Mechanism. Zero values take defaults.
type Options struct {
	// Now is the clock; time.Now by default. Tests set it.
	Now    func() time.Time
	Logger *slog.Logger
	// Origin names the mechanism's log when its store is new (default
	// DefaultOrigin); later the name is read from the store.
	Origin string
	// IndexSnapshot is a file where SaveIndex keeps a snapshot of the
	// index, which Load starts from when it matches the store; none if
	// empty.
	IndexSnapshot string
	// WebhookAllow lists the address ranges webhooks may reach although
	// the egress rule (deconflict.Egress) refuses them by default, such as
	// a party's own network (serve --webhook-allow).
	WebhookAllow []netip.Prefix
}

// New returns a mechanism over store. Call Load before serving.
func New(store dc.Store, opts Options) *Mechanism {
	m := &Mechanism{raw: store, now: opts.Now, log: opts.Logger, origin: opts.Origin,
		egress: dc.Egress{Allow: opts.WebhookAllow}}
	m.store = watchedStore{Store: store, m: m}
	if m.origin == "" {
		m.origin = DefaultOrigin
	}
	m.evidence = make(chan struct{}, 1)
	m.index.Store(geo.NewIndex())
	if m.now == nil {
		m.now = time.Now
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if opts.IndexSnapshot != "" {
		m.snapshots = snapshot.New(opts.IndexSnapshot, m.store, m.log)
	}
	return m
}

// Store returns the store the mechanism works on.
func (m *Mechanism) Store() dc.Store { return m.raw }

// Now returns the mechanism's current time, in UTC, to the microsecond
// (the precision every store keeps).
func (m *Mechanism) Now() time.Time { return m.now().UTC().Truncate(time.Microsecond) }

// Load fills the index with every live operation of the store. It is
// called once at start; later changes by other processes are picked up
// by every write transaction.
func (m *Mechanism) Load(ctx context.Context) error {
	if err := m.ensureKey(ctx); err != nil {
		return fmt.Errorf("signing key: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	start := time.Now()
	if m.snapshots != nil {
		caughtUp, why := m.snapshots.Load(ctx, snapshotIndex{m})
		if why == nil {
			m.log.Info("index loaded", slog.String("from", "snapshot"), slog.String("file", m.snapshots.Path()),
				slog.Int("live_operations", m.index.Load().Len()), slog.Int("changed_since", caughtUp), slog.Duration("took", time.Since(start)))
			return nil
		}
		m.log.Info("index snapshot not used: loading from the store", slog.String("file", m.snapshots.Path()), slog.String("reason", why.Error()))
	}
	if err := m.store.View(ctx, func(tx dc.Tx) error { return m.reload(ctx, tx) }); err != nil {
		return err
	}
	m.log.Info("index loaded", slog.String("from", "store"), slog.Int("live_operations", m.index.Load().Len()), slog.Duration("took", time.Since(start)))
	return nil
}

// reload builds the index afresh from the store. It is called with m.mu
// held.
func (m *Mechanism) reload(ctx context.Context, tx dc.Tx) error {
	last, err := tx.LastSeq(ctx)
	if err != nil {
		return fmt.Errorf("load index: %w", err)
	}
	index, err := loadIndex(ctx, tx)
	if err != nil {
		return fmt.Errorf("load index: %w", err)
	}
	open, err := countOpenConflicts(ctx, tx)
	if err != nil {
		return fmt.Errorf("count open conflicts: %w", err)
	}
	m.index.Store(index)
	m.rev = last
	m.replica.seen.Store(last)
	m.stats.setOpenConflicts(open)
	return nil
}

// catchUp brings the index up to date with operations changed by other
// processes. It runs inside a write transaction, where nobody else can
// change operations, and with m.mu held.
func (m *Mechanism) catchUp(ctx context.Context, tx dc.Tx) error {
	last, err := tx.LastSeq(ctx)
	if err != nil {
		return err
	}
	if last <= m.rev {
		m.replica.seen.Store(m.rev)
		return nil
	}
	err = tx.OperationsSince(ctx, m.rev, false, func(op *dc.Operation) error { return indexOperation(m.index.Load(), op) })
	if err != nil {
		return fmt.Errorf("catch up index: %w", err)
	}
	m.rev = last
	m.replica.seen.Store(last)
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

// LiveOperations returns the number of live operations in the index.
func (m *Mechanism) LiveOperations() int { return m.index.Load().Len() }

// OpenConflicts returns the number of open conflicts this process knows of.
func (m *Mechanism) OpenConflicts() int64 { return m.stats.openConflicts() }

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

// Stats counts what the metrics report.
type Stats struct {
	mu   sync.Mutex
	open int64

	// Batches and BatchedWrites count group commits and the writes they
	// carried; their ratio is the mean batch size.
	Batches, BatchedWrites atomic.Int64
	// BatchNanos is the time spent in batch transactions.
	BatchNanos atomic.Int64
	// ChecksAhead counts the conflict checks of declarations that were
	// searched before the write lock and only brought up to date under
	// it (geo.Index.Since); ChecksInBatch those searched under it.
	ChecksAhead, ChecksInBatch atomic.Int64
}

// Stats returns the mechanism's counters.
func (m *Mechanism) Stats() *Stats { return &m.stats }

// StoreTimings returns the store's timings (see deconflict.Timed); none
// if it keeps none.
func (m *Mechanism) StoreTimings() []dc.Timing {
	if t, ok := m.raw.(dc.Timed); ok {
		return t.Timings()
	}
	return nil
}

func (s *Stats) setOpenConflicts(n int64) { s.mu.Lock(); s.open = n; s.mu.Unlock() }
func (s *Stats) addOpenConflicts(d int64) { s.mu.Lock(); s.open += d; s.mu.Unlock() }
func (s *Stats) openConflicts() int64     { s.mu.Lock(); defer s.mu.Unlock(); return s.open }
