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
	db   *DB
	conn *pgxpool.Conn
	// pid is the server process of the lease's connection: the one that
	// holds the lock (HeldIn).
	pid  uint32
	lost chan struct{}
	stop chan struct{}

	mu    sync.Mutex
	ended bool
}

var _ deconflict.FencedLease = (*Lease)(nil)

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
	l := &Lease{name: name, db: db, conn: c, pid: c.Conn().PgConn().PID(), lost: make(chan struct{}), stop: make(chan struct{})}
	go l.watch()
	return l, true, nil
}

// Lost returns a channel closed when the lease ends: when its connection
// fails (checked every second) or it is released.
func (l *Lease) Lost() <-chan struct{} { return l.lost }

// HeldIn returns deconflict.ErrLeaseLost unless the lease's connection
// holds its lock when tx, a write transaction of the DB that granted the
// lease, asks the server (deconflict.FencedLease). The server lets the
// lock go as soon as it ends the lease's session (the connection was
// killed or dropped), while the watch of the connection can take a ping
// and its timeout to notice.
func (l *Lease) HeldIn(ctx context.Context, dtx deconflict.Tx) error {
	select {
	case <-l.lost:
		return deconflict.ErrLeaseLost
	default:
	}
	t, ok := dtx.(*tx)
	if !ok || t.db != l.db || !t.write {
		return fmt.Errorf("lease %s: HeldIn needs a write transaction of the database that granted the lease", l.name)
	}
	var held bool
	err := t.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = $1
		AND classid = $2::integer::oid AND objid = hashtext($3)::oid AND objsubid = 2 AND granted)`,
		int32(l.pid), leaseLockSpace, l.name).Scan(&held)
	if err != nil {
		return fmt.Errorf("lease %s: is it held: %w", l.name, err)
	}
	if !held {
		return deconflict.ErrLeaseLost
	}
	return nil
}

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
