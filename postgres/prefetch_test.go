package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/deconflict/deconflict"
	"github.com/jackc/pgx/v5/pgconn"
)

// A prefetch is read with the transaction's first statement, and
// OperationsSince answered from it meets an operation the walk writes
// before it meets it as written: the rest of the walk reads the
// operations again. (What a prefetch must answer, every store's
// prefetch answers: storetest's Prefetch.)
func TestPrefetchSince(t *testing.T) {
	db := MustOpen(t, "")
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	op := func(id string, rev int64, prio int) *deconflict.Operation {
		return &deconflict.Operation{ID: id, Party: "alpha", Version: 1, State: deconflict.StatePlanned, Priority: prio, Rev: rev,
			Start: now, End: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}
	}
	if err := db.Update(ctx, func(tx deconflict.Tx) error {
		if err := tx.PutOperation(ctx, op("op-a", 3, 0)); err != nil {
			return err
		}
		return tx.PutOperation(ctx, op("op-b", 5, 0))
	}); err != nil {
		t.Fatal(err)
	}
	var got string
	err := db.Update(ctx, func(dtx deconflict.Tx) error {
		dtx.(deconflict.Prefetcher).Prefetch(nil, 2)
		if _, err := dtx.LastSeq(ctx); err != nil {
			return err
		}
		if !dtx.(*tx).prefetchLoaded() {
			return errors.New("the prefetch was not read with the first statement")
		}
		return dtx.OperationsSince(ctx, 2, false, func(o *deconflict.Operation) error {
			got += fmt.Sprintf("%s/%d/%d ", o.ID, o.Rev, o.Priority)
			if o.ID == "op-a" {
				return dtx.PutOperation(ctx, op("op-b", 5, 7))
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "op-a/3/0 op-b/5/7 "; got != want {
		t.Errorf("walk from the prefetch, writing op-b during it: %q, want %q", got, want)
	}
}

// Failures of the database's availability, and only those, read as
// EUnavailable, with their cause still in the chain.
func TestTransient(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&pgconn.PgError{Code: "57P01"}, true},
		{&pgconn.PgError{Code: "25006"}, true},
		{&pgconn.PgError{Code: "08006"}, true},
		{fmt.Errorf("commit transaction: %w", io.ErrUnexpectedEOF), true},
		{fmt.Errorf("begin: %w", &net.OpError{Op: "dial", Err: errors.New("connection refused")}), true},
		{pgconn.ErrConnClosed, true},
		{&pgconn.PgError{Code: "23505"}, false},
		{&pgconn.PgError{Code: "22P02"}, false},
		{context.Canceled, false},
		{errors.New("decode operation: bad json"), false},
	} {
		if got := transient(c.err); got != c.want {
			t.Errorf("transient(%v) = %v, want %v", c.err, got, c.want)
		}
	}
	err := newUnavailable(&pgconn.PgError{Code: "40001"})
	if deconflict.ErrorCode(err) != deconflict.EUnavailable || !retryable(err) {
		t.Errorf("%v: code %s, retryable %v", err, deconflict.ErrorCode(err), retryable(err))
	}
}
