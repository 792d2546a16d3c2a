package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"syscall"

	dc "github.com/deconflict/deconflict"
)

// fileLeaser grants leases as exclusive flock(2) locks on files beside an
// embedded store, so that two processes serving one SQLite file do not
// both deliver webhooks. The kernel releases a lock when its holder dies.
type fileLeaser struct{ path string }

func (f fileLeaser) TryLease(_ context.Context, name string) (dc.Lease, bool, error) {
	file, err := os.OpenFile(f.path+"."+name+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("lease file: %w", err)
	}
	if err := syscall.Flock(int(file.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		file.Close()
		if err == syscall.EWOULDBLOCK {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("lease file: %w", err)
	}
	return &fileLease{file: file, lost: make(chan struct{})}, true, nil
}

// fileLease is a lock taken by fileLeaser. The kernel keeps it as long as
// the process lives, so it is never lost: Lost never closes.
type fileLease struct {
	file *os.File
	lost chan struct{}
}

func (l *fileLease) Lost() <-chan struct{} { return l.lost }

func (l *fileLease) Release() { l.file.Close() }

// leaserFor returns how processes sharing the store behind url take
// leases: the store's own (dc.Leaser), or else locks on files beside it.
func leaserFor(st dc.Store, url string) dc.Leaser {
	if l, ok := st.(dc.Leaser); ok {
		return l
	}
	return fileLeaser{path: strings.TrimPrefix(strings.TrimPrefix(url, "sqlite:"), "//")}
}

// followCommits wakes the mechanism whenever any process commits events.
func followCommits(ctx context.Context, l dc.Listener, mech interface{ Wake(seq int64) }, log *slog.Logger) {
	if err := l.Listen(ctx, mech.Wake); err != nil && ctx.Err() == nil {
		log.Error("listening for other replicas' commits stopped; streams fall back to polling", slog.Any("err", err))
	}
}
