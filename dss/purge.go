package dss

import (
	"context"
	"log/slog"
	"sort"
	"time"

	dc "github.com/deconflict/deconflict"
)

// Records whose time is over are purged, so that memory and the store do
// not grow with every intent ever flown. An operational intent, a
// constraint or a subscription is purged Retention after its end (the
// InterUSS DSS's eviction keeps them 2 × 56 days by default, and so does
// this DSS): until then a USS can still read it by ID. Being over, it
// intersects nothing live, so purging it changes no key, no query of the
// present or future and no notification. An implicit subscription goes
// with its last intent. The volumes kept of a /v1 operation go once it
// has ended: a change of a past operation touches no live subscription.
//
// A deleted record leaves a row (a tombstone) so that other processes on
// the store learn of the deletion. A pass purges the tombstones that were
// already there at the previous pass, and records how far it purged
// (kindPurge); a process that had not caught up that far reloads every
// record, since it cannot have learnt of the deletions it missed.

const (
	kindPurge = "purge"
	purgeID   = "tombstones"

	// DefaultRetention is how long after its end a record is kept.
	DefaultRetention = 2 * 56 * 24 * time.Hour

	// purgeBatch bounds the records one pass deletes, so that a pass
	// holds the write lock briefly; the next pass goes on.
	purgeBatch = 1000
)

// horizon is how far tombstones were purged.
type horizon struct {
	Seq int64 `json:"seq"`
}

// RunPurge purges every interval until ctx ends.
func (d *DSS) RunPurge(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n, err := d.Purge(ctx); err != nil && ctx.Err() == nil {
			d.log.Error("dss: purge", slog.Any("error", err))
		} else if n > 0 {
			d.log.Info("dss: purged records", slog.Int("records", n))
		}
	}
}

// Purge deletes the records over for longer than the retention, and the
// tombstones the previous pass saw, in one write; it returns how many
// records and tombstones went.
func (d *DSS) Purge(ctx context.Context) (int, error) {
	now := d.now().UTC()
	cutoff := now.Add(-d.retention)
	through := d.purgeNext.Load()
	n := 0
	write := func(ctx context.Context, tx dc.Tx) error {
		n = 0
		st := d.st
		for _, id := range expired(st.oirs, func(o *oir) bool { return o.End.Before(cutoff) }) {
			o := st.oirs[id]
			if err := st.setOIR(ctx, tx, id, nil); err != nil {
				return err
			}
			n++
			if s := st.subs[o.SubscriptionID]; s != nil && s.Implicit && len(st.dependents[s.ID]) == 0 {
				if err := st.setSub(ctx, tx, s.ID, nil); err != nil {
					return err
				}
				n++
			}
		}
		for _, id := range expired(st.subs, func(s *subscription) bool { return s.End.Before(cutoff) && len(st.dependents[s.ID]) == 0 }) {
			if err := st.setSub(ctx, tx, id, nil); err != nil {
				return err
			}
			n++
		}
		for _, id := range expired(st.constraints, func(c *constraint) bool { return c.End.Before(cutoff) }) {
			if err := st.setConstraint(ctx, tx, id, nil); err != nil {
				return err
			}
			n++
		}
		for _, id := range expired(st.v1ops, func(o *v1op) bool { return !o.End.After(now) }) {
			if err := st.setV1Op(ctx, tx, id, nil); err != nil {
				return err
			}
			n++
		}
		ptx, ok := tx.(dc.DSSPurgeTx)
		if !ok || through <= 0 {
			return nil
		}
		gone, err := ptx.PurgeDSSTombstones(ctx, through)
		if err != nil || gone == 0 {
			return err
		}
		n += int(gone)
		// The horizon only grows: another process may have purged
		// further with a horizon of its own.
		h := max(through, st.purged)
		if err := st.write(ctx, tx, kindPurge, purgeID, horizon{Seq: h}); err != nil {
			return err
		}
		prev := st.purged
		st.purged = h
		st.undo = append(st.undo, func() { st.purged = prev })
		return nil
	}
	if err := d.m.Attachments().WriteAttached(ctx, admin, d.attachment(nil, write)); err != nil {
		return 0, err
	}
	d.st.mu.RLock()
	d.purgeNext.Store(d.st.seq)
	d.st.mu.RUnlock()
	return n, nil
}

// expired returns up to purgeBatch IDs of m whose entry is over, sorted.
func expired[T any](m map[string]*T, over func(*T) bool) []string {
	var out []string
	for id, v := range m {
		if over(v) {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	if len(out) > purgeBatch {
		out = out[:purgeBatch]
	}
	return out
}
