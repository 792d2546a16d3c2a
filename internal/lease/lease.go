// Package lease runs work that must happen once among the processes
// sharing a store (delivering webhooks, writing the others'
// declarations, pulling a federation node's peers) only in the process
// holding its lease, and moves it to another process when the holder
// stops, dies or loses the store.
package lease

import (
	"context"
	"log/slog"
	"time"

	dc "github.com/deconflict/deconflict"
)

// Retry is how often a process that does not hold a lease tries to take
// it: how long work stops after its holder dies.
const Retry = 2 * time.Second

// While runs work whenever this process holds the lease called name,
// until ctx ends. work's context ends with ctx, or when the lease is lost
// (another process may then take it); work must return soon after. The
// lease is released once work has returned, so that a process that stops
// hands the work over only once it has stopped doing it. work's context
// carries the lease (Of), for work that must also commit nothing once
// the lease is lost but before Lost tells (dc.FencedLease).
func While(ctx context.Context, l dc.Leaser, name string, log *slog.Logger, work func(context.Context)) {
	for ctx.Err() == nil {
		lease, ok, err := l.TryLease(ctx, name)
		switch {
		case err != nil:
			if ctx.Err() == nil {
				log.Warn("lease: cannot reach the store", slog.String("lease", name), slog.Any("err", err))
			}
		case ok:
			log.Info("lease taken: this process does the work", slog.String("lease", name))
			wctx, cancel := context.WithCancel(context.WithValue(ctx, heldKey{}, lease))
			go func() {
				select {
				case <-lease.Lost():
					log.Warn("lease lost: stopping the work", slog.String("lease", name))
					cancel()
				case <-wctx.Done():
				}
			}()
			work(wctx)
			cancel()
			lease.Release()
		}
		t := time.NewTimer(Retry)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
}

// heldKey is the key of the lease in the context of the work it runs.
type heldKey struct{}

// Of returns the lease under which work run by While was given ctx (or a
// context derived from it); nil outside such work.
func Of(ctx context.Context) dc.Lease {
	l, _ := ctx.Value(heldKey{}).(dc.Lease)
	return l
}
