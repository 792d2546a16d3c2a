package sqlite

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"time"
)

// SQLite's own busy handler sleeps 1, 2, 5, … then 100 ms between tries.
// Against a writer in another process that commits back to back, the gaps
// between its transactions last tens of microseconds, and a waiter that
// looks every 100 ms starves: `deconflict party add` would time out
// beside a busy server. The write connection therefore has busy_timeout
// 0, and begin and retryBusy try again every fraction of a millisecond
// until BusyTimeout.

// Delays between tries for a lock.
const (
	minBusyDelay = 50 * time.Microsecond
	maxBusyDelay = time.Millisecond
)

// begin starts a write transaction, waiting for the write lock.
func begin(ctx context.Context, db *sql.DB) (*sql.Tx, error) {
	var t *sql.Tx
	err := retryBusy(ctx, func() error {
		var err error
		t, err = db.BeginTx(ctx, nil)
		return err
	})
	return t, err
}

// retryBusy calls fn until it does not fail with SQLITE_BUSY, ctx is done
// or BusyTimeout has passed, and returns its last error.
func retryBusy(ctx context.Context, fn func() error) error {
	deadline := time.Now().Add(BusyTimeout)
	delay := minBusyDelay
	for {
		err := fn()
		if !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		// Jitter, so that two waiters do not try in step.
		d := delay/2 + rand.N(delay)
		timer := time.NewTimer(d)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
		delay = min(2*delay, maxBusyDelay)
	}
}

// isBusy reports whether err is SQLite's SQLITE_BUSY, of any kind.
func isBusy(err error) bool {
	code, ok := errorCode(err)
	return ok && code == sqliteBusy
}

// SQLite's primary result codes, which both drivers report.
const (
	sqliteBusy       = 5
	sqliteConstraint = 19
)
