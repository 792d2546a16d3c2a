package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/postgres"
)

// A lease is held by one process at a time among those sharing a store.
// Work that must happen once, not once per replica — delivering webhooks —
// runs only while its lease is held.
type leaser interface {
	// TryLease takes the lease called name if nobody holds it. While it
	// is held, lost is open; it is closed if the lease is lost (the
	// holder's connection to the store broke). release gives it up.
	TryLease(ctx context.Context, name string) (release func(), lost <-chan struct{}, ok bool, err error)
}

// leaseRetry is how often a process that does not hold a lease tries to
// take it: how long work stops after its holder dies.
const leaseRetry = 2 * time.Second

// whileLeased runs work whenever this process holds the lease, until ctx
// ends. work must return soon after its context ends.
func whileLeased(ctx context.Context, l leaser, name string, log *slog.Logger, work func(context.Context)) {
	for ctx.Err() == nil {
		release, lost, ok, err := l.TryLease(ctx, name)
		switch {
		case err != nil:
			if ctx.Err() == nil {
				log.Warn("lease: cannot reach the store", slog.String("lease", name), slog.Any("err", err))
			}
		case ok:
			log.Info("lease taken: this process does the work", slog.String("lease", name))
			wctx, cancel := context.WithCancel(ctx)
			go func() {
				select {
				case <-lost:
					log.Warn("lease lost: stopping the work", slog.String("lease", name))
					cancel()
				case <-wctx.Done():
				}
			}()
			work(wctx)
			cancel()
			release()
		}
		t := time.NewTimer(leaseRetry)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
}

// fileLeaser grants leases as exclusive flock(2) locks on files beside an
// embedded store, so that two processes serving one SQLite file do not
// both deliver webhooks. The kernel releases a lock when its holder dies.
type fileLeaser struct{ path string }

func (f fileLeaser) TryLease(_ context.Context, name string) (func(), <-chan struct{}, bool, error) {
	file, err := os.OpenFile(f.path+"."+name+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, false, fmt.Errorf("lease file: %w", err)
	}
	if err := syscall.Flock(int(file.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		file.Close()
		if err == syscall.EWOULDBLOCK {
			return nil, nil, false, nil
		}
		return nil, nil, false, fmt.Errorf("lease file: %w", err)
	}
	return func() { file.Close() }, make(chan struct{}), true, nil
}

// pgLeaser grants leases as PostgreSQL session advisory locks.
type pgLeaser struct{ db *postgres.DB }

func (p pgLeaser) TryLease(ctx context.Context, name string) (func(), <-chan struct{}, bool, error) {
	l, ok, err := p.db.TryLease(ctx, name)
	if err != nil || !ok {
		return nil, nil, false, err
	}
	return l.Release, l.Lost(), true, nil
}

// leaserFor returns how processes sharing the store behind url take
// leases.
func leaserFor(st dc.Store, url string) leaser {
	if db, ok := st.(*postgres.DB); ok {
		return pgLeaser{db}
	}
	return fileLeaser{path: strings.TrimPrefix(strings.TrimPrefix(url, "sqlite:"), "//")}
}

// A listener is a store that reports commits of every process sharing it
// (PostgreSQL LISTEN/NOTIFY).
type listener interface {
	// Listen calls fn for every commit of events, with the highest seq
	// committed (0 after it reconnected, when it may have missed some),
	// until ctx ends.
	Listen(ctx context.Context, fn func(seq int64)) error
}

// followCommits wakes the mechanism whenever any process commits events.
func followCommits(ctx context.Context, l listener, mech interface{ Wake(seq int64) }, log *slog.Logger) {
	if err := l.Listen(ctx, mech.Wake); err != nil && ctx.Err() == nil {
		log.Error("listening for other replicas' commits stopped; streams fall back to polling", slog.Any("err", err))
	}
}
