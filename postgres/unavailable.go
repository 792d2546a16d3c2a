package postgres

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"

	"github.com/deconflict/deconflict"
	"github.com/jackc/pgx/v5/pgconn"
)

// unavailableError is what a transaction that failed for want of a
// writable database returns: an EUnavailable *deconflict.Error, so that
// the client is told to try again (the same request will then most likely
// succeed), which also wraps the cause, for logs and for callers that look
// for it. A write whose commit was under way when the connection was lost
// may or may not have committed; trying again finds out (a declaration is
// a PUT of its ID).
type unavailableError struct {
	err   *deconflict.Error
	cause error
}

func (e *unavailableError) Error() string   { return e.err.Error() + ": " + e.cause.Error() }
func (e *unavailableError) Unwrap() []error { return []error{e.err, e.cause} }

// newUnavailable returns an unavailableError for cause.
func newUnavailable(cause error) error {
	return &unavailableError{cause: cause, err: &deconflict.Error{
		Code:    deconflict.EUnavailable,
		Message: "the database cannot take writes right now (it may be failing over); try again shortly",
	}}
}

// unavailable returns err as an unavailableError if it says the database
// could not be reached or could not write, and as it is otherwise. The
// cause is logged, since the client's answer does not show it.
func (db *DB) unavailable(what string, err error) error {
	if err == nil || !transient(err) {
		return err
	}
	db.logger().Warn(what+": the database is unavailable", slog.Any("err", err))
	return newUnavailable(err)
}

// transient reports whether err is a failure of the database's
// availability rather than of the statement: the connection could not be
// made or was lost, the server is shutting down or starting, it is a
// standby that takes no writes (a primary demoted, or a URL without
// target_session_attrs=read-write), or the transaction was retried as
// often as Update does after serialization failures and deadlocks.
func transient(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case len(pe.Code) == 5 && pe.Code[:2] == "08": // connection exception
			return true
		case pe.Code == "25006", // read_only_sql_transaction: a standby
			pe.Code == "57P01", // admin_shutdown
			pe.Code == "57P02", // crash_shutdown
			pe.Code == "57P03", // cannot_connect_now: starting or recovering
			pe.Code == "53300", // too_many_connections
			pe.Code == "40001", // serialization_failure
			pe.Code == "40P01": // deadlock_detected
			return true
		}
		return false
	}
	if errors.Is(err, context.Canceled) {
		return false // the caller gave up: not the database's doing
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, pgconn.ErrConnClosed) ||
		pgconn.SafeToRetry(err)
}
