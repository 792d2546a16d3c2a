package postgres

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

// Delays of Listen between losing its connection and connecting again:
// the first at most a second, then doubling up to the cap.
const (
	listenFirstRetry = 500 * time.Millisecond
	listenMaxRetry   = 5 * time.Second
)

// listenIdle is how long Listen waits for a notification before it checks
// that its connection still answers (a peer that vanishes without closing
// the connection would otherwise leave it waiting for ever).
const listenIdle = 30 * time.Second

// Listen calls fn with the last event seq of every transaction that
// appends events to the database, from any DB on it (any replica), soon
// after the transaction commits. It holds a connection of its own (not
// one of the pool's) and LISTENs on EventsChannel; when the connection is
// lost it connects again, after 0.5 s, then after longer delays up to 5 s.
// After each connection, the first included, it calls fn(0): it may have
// missed notifications, and fn should read what is new. It returns nil
// when ctx ends. fn runs on Listen's goroutine; it should not block for
// long.
func (db *DB) Listen(ctx context.Context, fn func(seq int64)) error {
	var delay time.Duration
	failing := false
	for {
		listened, err := db.listen(ctx, fn, failing)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			db.logger().Warn("listening for other replicas' commits failed; trying again (streams poll meanwhile)", slog.Any("err", err))
		}
		failing = true
		if listened || delay == 0 {
			delay = listenFirstRetry
		} else {
			delay = min(2*delay, listenMaxRetry)
		}
		// Jitter, so that replicas do not all reconnect in step.
		d := delay/2 + rand.N(delay/2)
		timer := time.NewTimer(d)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-timer.C:
		}
	}
}

// listen connects, listens and calls fn until the connection fails or ctx
// ends. It reports whether it got as far as listening, and why it stopped.
// After a failure (again), it logs when it listens once more.
func (db *DB) listen(ctx context.Context, fn func(seq int64), again bool) (listened bool, err error) {
	cfg := db.pool.Config().ConnConfig.Copy()
	// A wait that times out leaves the connection usable (the default
	// handler would send the server a cancel request instead).
	cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: c.Conn()}
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgx.ConnectConfig(cctx, cfg)
	cancel()
	if err != nil {
		return false, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn.Close(cctx)
		cancel()
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+EventsChannel); err != nil {
		return false, err
	}
	if again {
		db.logger().Info("listening for other replicas' commits again")
	}
	fn(0)
	for {
		wctx, cancel := context.WithTimeout(ctx, listenIdle)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return true, nil
		case err != nil && errors.Is(err, context.DeadlineExceeded) && !conn.IsClosed():
			// Quiet for a while: check that the server is still there.
			pctx, cancel := context.WithTimeout(ctx, PingTimeout)
			err = conn.Ping(pctx)
			cancel()
			if err != nil {
				return true, err
			}
		case err != nil:
			return true, err
		default:
			seq, err := strconv.ParseInt(n.Payload, 10, 64)
			if err != nil {
				seq = 0 // not ours, or unreadable: read what is new
			}
			fn(seq)
		}
	}
}
