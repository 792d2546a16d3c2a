package mechanism

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/record"
)

// The integrity alarm. The store is the truth, but a truth that can rot:
// a bit flipped on disk in a stored Merkle hash passes SQLite's own
// checks, and a proof built on it would make an innocent entry look
// tampered with. So every proof, checkpoint and evidence bundle is
// checked before it is served (record.Checked, CheckedInclusionProof,
// Verify), and the store reports errors that show its data is damaged
// (dc.DamageReporter). Either raises the alarm:
//
//   - the caller gets 500 with code internal and a message that says
//     "integrity alarm", never the wrong data;
//   - the server logs "integrity alarm" at error level with what failed;
//   - deconflict_integrity_alarms_total counts it;
//   - /readyz answers 503 from then on, until the store is repaired and
//     the server restarted (docs/OPERATIONS.md says how).
//
// A store that cannot write is not ready either (see writeHealth).

// integrity is the state of the alarm.
type integrity struct {
	log    *slog.Logger
	alarms atomic.Int64
	mu     sync.Mutex
	first  string // what raised the first alarm; "" if none
}

// raise raises the integrity alarm because of what (a phrase such as
// "the checkpoint did not verify against the stored log", for the log and
// /readyz) on err, and returns the error the caller is answered with.
func (i *integrity) raise(ctx context.Context, what string, err error) error {
	i.alarms.Add(1)
	i.mu.Lock()
	if i.first == "" {
		i.first = what
	}
	i.mu.Unlock()
	i.log.ErrorContext(ctx, "integrity alarm: the store's data does not verify; not ready until it is repaired and the server restarted",
		slog.String("what", what), slog.String("error", err.Error()))
	return dc.Errorf(dc.EInternal, "integrity alarm: %s; nothing was served, and the operators are alerted", what)
}

// check raises the alarm about what if err shows the log does not verify
// (record.ErrIntegrity), and returns err otherwise.
func (i *integrity) check(ctx context.Context, what string, err error) error {
	if err != nil && errors.Is(err, record.ErrIntegrity) {
		return i.raise(ctx, what+" did not verify against the stored log", err)
	}
	return err
}

// raised returns what raised the first alarm, and whether one was raised.
func (i *integrity) raised() (string, bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.first, i.first != ""
}

// Health is the part of the mechanism an operator watches: the integrity
// alarm, whether the store takes writes (probe writes), readiness, and
// the counters and timings the metrics report. It is a view over the same
// Mechanism, kept as its own type so that surface can be read alone.
type Health struct{ m *Mechanism }

// Health returns the health view of m.
func (m *Mechanism) Health() Health { return Health{m: m} }

// IntegrityAlarms returns how many integrity alarms this process raised.
func (h Health) IntegrityAlarms() int64 { return h.m.integrity.alarms.Load() }

// IntegrityAlarm returns what raised the first integrity alarm of this
// process, and whether one was raised.
func (h Health) IntegrityAlarm() (string, bool) { return h.m.integrity.raised() }

// writeHealth follows whether the store takes writes, from the outcome of
// every write transaction of this process and, when none committed for a
// while, of a probe write (ProbeWrite). A write that fails for the store's
// sake (not a refusal by the rules, nor a caller that went away) makes the
// store not ready until a later write commits; a write that fails because
// the data is damaged raises the integrity alarm, which lasts.
//
// Both are needed: a probe alone writes one small table, and damage to
// another table's pages fails every declaration while the probe commits;
// real writes alone say nothing while there are none.
//
// Outcomes may come back in another order than their writes began in
// (two writes at once, the one that began first returning last), so each
// write takes a ticket as it begins, and an outcome counts only if no
// write that began after it has counted yet.
type writeHealth struct {
	log *slog.Logger
	// alarm is raised by a write that fails because the store reports
	// its data damaged (damage, nil if the store reports no damage).
	alarm    *integrity
	damage   dc.DamageReporter
	began    atomic.Int64 // tickets handed out to writes as they begin
	mu       sync.Mutex
	counted  int64     // the ticket of the write whose outcome counts now
	failing  error     // the last write failed with this; nil if it committed
	lastGood time.Time // when a write last committed
}

// watchedStore is the mechanism's store with every Update's outcome
// followed (writeHealth).
type watchedStore struct {
	dc.Store
	health *writeHealth
}

func (w watchedStore) Update(ctx context.Context, fn func(dc.Tx) error) error {
	ticket := w.health.began.Add(1)
	err := w.Store.Update(ctx, fn)
	w.health.observe(ctx, ticket, err)
	return err
}

// observe records the outcome of the write transaction that took ticket
// as it began.
func (h *writeHealth) observe(ctx context.Context, ticket int64, err error) {
	var e *dc.Error
	switch {
	case err == nil:
		h.mu.Lock()
		if ticket > h.counted {
			h.counted, h.failing = ticket, nil
		}
		h.lastGood = time.Now()
		h.mu.Unlock()
	case errors.As(err, &e) && e.Code != dc.EInternal && e.Code != dc.EUnavailable,
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), ctx.Err() != nil:
		// A refusal, or a caller that went away: says nothing of the store.
	default:
		if h.damage != nil && h.damage.Damaged(err) {
			h.alarm.raise(ctx, "the store reported its data damaged on a write", err)
		}
		h.fail(ctx, ticket, err)
	}
}

// fail makes the store not ready, because the write that took ticket
// failed with err, until a write that began after it commits.
func (h *writeHealth) fail(ctx context.Context, ticket int64, err error) {
	h.mu.Lock()
	if ticket < h.counted {
		h.mu.Unlock()
		return // a write that began after it already counted
	}
	first := h.failing == nil
	h.counted, h.failing = ticket, err
	h.mu.Unlock()
	if first {
		h.log.ErrorContext(ctx, "a write to the store failed: not ready until a write commits", slog.String("error", err.Error()))
	}
}

// probeName is the meta row ProbeWrite writes.
const probeName = "readiness_probe"

// ProbeWrite commits a small write (the time, in a meta row of its own),
// to learn whether the store takes writes when nothing else wrote.
func (h Health) ProbeWrite(ctx context.Context) error {
	m := h.m
	stamp := []byte(time.Now().UTC().Format(time.RFC3339Nano))
	return m.store.Update(ctx, func(tx dc.Tx) error { return tx.PutMeta(ctx, probeName, stamp) })
}

// RunWriteProbes probes the store's writes (ProbeWrite) every interval in
// which no write committed, until ctx ends, so that /readyz learns of a
// store that stopped taking writes also when nobody writes, and of one
// that takes them again.
func (h Health) RunWriteProbes(ctx context.Context, every time.Duration) {
	m := h.m
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if m.writes.idle(every) {
			// Its outcome is recorded by writeHealth.observe, which takes a
			// write that ran out of time for one whose caller went away.
			// A probe that runs out of time, though, shows a store whose
			// writes hang (a lock never released, a commit waiting for a
			// standby that is gone): that store is not ready either.
			pctx, cancel := context.WithTimeout(ctx, every)
			ticket := m.writes.began.Load() + 1 // at most the ticket the probe takes
			if err := h.ProbeWrite(pctx); err != nil && ctx.Err() == nil && errors.Is(pctx.Err(), context.DeadlineExceeded) {
				m.writes.fail(ctx, ticket, fmt.Errorf("a probe write did not commit within %v: %w", every, err))
			}
			cancel()
		}
	}
}

// errNotReady is what Ready answers, for /readyz; its text says why
// without the store's own error, which goes to the log.
type errNotReady string

func (e errNotReady) Error() string { return string(e) }

// Ready reports whether the server should take requests: no integrity
// alarm was raised, the store answers, and its last write committed.
// The error says which is wrong, in words safe to show anyone.
func (h Health) Ready(ctx context.Context) error {
	m := h.m
	if _, raised := h.IntegrityAlarm(); raised {
		// What raised it (an operation's ID, say) is for the log: /readyz
		// answers anyone who reaches the port.
		return errNotReady("integrity alarm: the store's data did not verify; see the server log and docs/OPERATIONS.md")
	}
	if err := m.raw.Ping(ctx); err != nil {
		return errNotReady("store unreachable")
	}
	if m.writes.lastFailed() {
		return errNotReady("the store does not take writes: its last write failed; see the server log")
	}
	return nil
}

// idle reports whether no write committed in the last interval, or the
// last one failed.
func (h *writeHealth) idle(every time.Duration) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.failing != nil || time.Since(h.lastGood) >= every
}

// lastFailed reports whether the write that counts now failed.
func (h *writeHealth) lastFailed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.failing != nil
}
