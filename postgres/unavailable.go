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

// errUnavailable is what a transaction that failed for want of a writable
// database returns: the client may try again, and the same request will
// then most likely succeed. A write whose commit was under way when the
// connection was lost may or may not have committed; trying again finds
// out (a declaration is a PUT of its ID).
var errUnavailable = &deconflict.Error{
	Code:    deconflict.EUnavailable,
	Message: "the database cannot take writes right now (it may be failing over); try again shortly",
}

// unavailable returns errUnavailable in place of err if err says the
// database could not be reached or could not write, and err otherwise.
// The cause is logged, since the client's answer no longer holds it.
func (db *DB) unavailable(what string, err error) error {
	if err == nil || !transient(err) {
		return err
	}
	db.logger().Warn(what+": the database is unavailable", slog.Any("err", err))
	return errUnavailable
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
