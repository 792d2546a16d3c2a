package postgres

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/deconflict/deconflict"
	"github.com/jackc/pgx/v5/pgxpool"
)

// leasePing is how often a lease checks that its connection answers.
const leasePing = time.Second

// Lease is a named lock held by at most one DB on a database at a time,
// across processes: a session advisory lock on a connection the lease
// keeps from the pool. The lease ends with Release, or when the
// connection fails or the process ends: the server then lets the lock go.
type Lease struct {
	name string
	conn *pgxpool.Conn
	lost chan struct{}
	stop chan struct{}

	mu    sync.Mutex
	ended bool
}

// TryLease takes the lease called name if no one holds it, and reports
// whether it did (deconflict.Leaser); the lease is a *Lease. The holder should stop acting on the lease when
// Lease.Lost is closed, and call Release when done.
func (db *DB) TryLease(ctx context.Context, name string) (deconflict.Lease, bool, error) {
	c, err := db.pool.Acquire(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("take lease %s: %w", name, err)
	}
	var ok bool
	if err := c.QueryRow(ctx, "SELECT pg_try_advisory_lock($1, hashtext($2))", leaseLockSpace, name).Scan(&ok); err != nil {
		c.Conn().Close(context.WithoutCancel(ctx))
		c.Release()
		return nil, false, fmt.Errorf("take lease %s: %w", name, err)
	}
	if !ok {
		c.Release()
		return nil, false, nil
	}
	l := &Lease{name: name, conn: c, lost: make(chan struct{}), stop: make(chan struct{})}
	go l.watch()
	return l, true, nil
}

// Lost returns a channel closed when the lease ends: when its connection
// fails (checked every second) or it is released.
func (l *Lease) Lost() <-chan struct{} { return l.lost }

// Release gives the lease up. It may be called more than once, and after
// the lease was lost.
func (l *Lease) Release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ended {
		return
	}
	close(l.stop)
	ctx, cancel := context.WithTimeout(context.Background(), PingTimeout)
	defer cancel()
	if _, err := l.conn.Exec(ctx, "SELECT pg_advisory_unlock($1, hashtext($2))", leaseLockSpace, l.name); err != nil {
		l.conn.Conn().Close(ctx) // the lock ends with the session
	}
	l.end()
}

// end gives the connection back and closes lost. l.mu is held.
func (l *Lease) end() {
	l.ended = true
	l.conn.Release()
	close(l.lost)
}

// watch pings the lease's connection every second until the lease is
// released, and ends the lease when a ping fails.
func (l *Lease) watch() {
	ticker := time.NewTicker(leasePing)
	defer ticker.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-ticker.C:
		}
		l.mu.Lock()
		if l.ended {
			l.mu.Unlock()
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), PingTimeout)
		err := l.conn.Ping(ctx)
		if err != nil {
			// The server may still hold the lock for a dead
			// connection a while; closing ours lets it go at once if
			// the server can still hear us.
			l.conn.Conn().Close(ctx)
			l.end()
		}
		cancel()
		l.mu.Unlock()
		if err != nil {
			return
		}
	}
}
