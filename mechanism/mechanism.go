package mechanism

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	dc "github.com/deconflict/deconflict"
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
	// snapshots is the file of the index snapshot (see Index.SaveIndex); nil
	// if none.
	snapshots *snapshot.File
	evidence  chan struct{} // one evidence bundle built at a time (see Evidence)
	egress    dc.Egress     // where webhooks may point (Options.WebhookAllow)

	// writer runs the writes to operations and owns the index of live
	// operations (writer.go).
	writer *writer

	// noReceipts tells the parties that give no receipts (SetNoReceipts);
	// nil: every party gives them.
	noReceipts func(party string) bool

	stats     Stats
	integrity integrity
	writes    writeHealth
	tokens    tokenCache
	changes   changes
	tail      tail
	// checkSet keeps the settings what-if checks apply (views.go).
	checkSet settingsCache
	// fed is what the mechanism knows of its federation peers.
	fed federation
}

// Options configure a Mechanism. Zero values take defaults.
type Options struct {
	// Now is the clock; time.Now by default. Tests set it.
	Now    func() time.Time
	Logger *slog.Logger
	// Origin names the mechanism's log when its store is new (default
	// DefaultOrigin); later the name is read from the store.
	Origin string
	// IndexSnapshot is a file where Index.SaveIndex keeps a snapshot of the
	// index, which Load starts from when it matches the store; none if
	// empty.
	IndexSnapshot string
	// WebhookAllow lists the address ranges webhooks may reach although
	// the egress rule (deconflict.Egress) refuses them by default, such as
	// a party's own network (serve --webhook-allow).
	WebhookAllow []netip.Prefix
	// ViewCacheBytes bounds the encoded operations what-if checks keep
	// in memory (default DefaultViewCacheBytes).
	ViewCacheBytes int64
}

// New returns a mechanism over store. Call Load before serving.
func New(store dc.Store, opts Options) *Mechanism {
	m := &Mechanism{raw: store, now: opts.Now, log: opts.Logger, origin: opts.Origin,
		egress: dc.Egress{Allow: opts.WebhookAllow}}
	m.store = watchedStore{Store: store, health: &m.writes}
	if m.origin == "" {
		m.origin = DefaultOrigin
	}
	m.evidence = make(chan struct{}, 1)
	if m.now == nil {
		m.now = time.Now
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	m.integrity.log = m.log
	m.writes.log, m.writes.alarm = m.log, &m.integrity
	m.writes.damage, _ = store.(dc.DamageReporter)
	m.writer = newWriter(m.store, m.log, &m.stats, m.notify)
	m.writer.run = m.runOne
	m.writer.end = m.appendNodeReceipts
	m.writer.views = newViewCache(opts.ViewCacheBytes)
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
	return m.writer.load(ctx, m.snapshots)
}

// LiveOperations returns the number of live operations in the index.
func (ix Index) LiveOperations() int { return ix.m.writer.index.Load().Len() }

// OpenConflicts returns the number of open conflicts this process knows of.
func (h Health) OpenConflicts() int64 { return h.m.stats.openConflicts() }

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
	// CaughtUpAhead counts the operations other processes changed that
	// this one read into its index outside a write transaction (ahead
	// of the write lock, or for a what-if check); CaughtUpInBatch those
	// it read under the write lock, in a batch.
	CaughtUpAhead, CaughtUpInBatch atomic.Int64
	// ForwardedOut counts the declarations this process handed to the
	// writer replica and got an answer for; ForwardFallbacks those the
	// writer did not take, which this process then wrote itself;
	// ForwardFailures those whose hand-over got no answer (their callers
	// were told to try again); ForwardedIn those other replicas handed
	// to this one (forward.go).
	ForwardedOut, ForwardFallbacks, ForwardFailures, ForwardedIn atomic.Int64
}

// Stats returns the mechanism's counters.
func (h Health) Stats() *Stats { return &h.m.stats }

// StoreTimings returns the store's timings (see deconflict.Timed); none
// if it keeps none.
func (h Health) StoreTimings() []dc.Timing {
	m := h.m
	if t, ok := m.raw.(dc.Timed); ok {
		return t.Timings()
	}
	return nil
}

func (s *Stats) setOpenConflicts(n int64) { s.mu.Lock(); s.open = n; s.mu.Unlock() }
func (s *Stats) addOpenConflicts(d int64) { s.mu.Lock(); s.open += d; s.mu.Unlock() }
func (s *Stats) openConflicts() int64     { s.mu.Lock(); defer s.mu.Unlock(); return s.open }
