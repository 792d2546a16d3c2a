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

// A prefetching write transaction answers Operation, Settings and Parties
// as one that does not: what was stored before, and what it wrote itself
// since, also after the prefetch read the old state.
func TestPrefetchReadsBackWrites(t *testing.T) {
	db := MustOpen(t, "")
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	op := func(id, party string, prio int) *deconflict.Operation {
		return &deconflict.Operation{ID: id, Party: party, Version: 1, State: deconflict.StatePlanned, Priority: prio,
			Start: now, End: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}
	}
	if err := db.Update(ctx, func(tx deconflict.Tx) error {
		if err := tx.CreateParty(ctx, &deconflict.Party{ID: "alpha", Name: "A", CreatedAt: now}); err != nil {
			return err
		}
		return tx.PutOperation(ctx, op("op-1", "alpha", 1))
	}); err != nil {
		t.Fatal(err)
	}
	err := db.Update(ctx, func(tx deconflict.Tx) error {
		tx.(deconflict.Prefetcher).Prefetch([]string{"op-1", "op-2"}, 0)
		if _, err := tx.LastSeq(ctx); err != nil { // the prefetch goes with it
			return err
		}
		if pt, ok := tx.(interface{ prefetchLoaded() bool }); !ok || !pt.prefetchLoaded() {
			return errors.New("the prefetch was not read with the first statement")
		}
		if got, err := tx.Operation(ctx, "op-1"); err != nil || got.Priority != 1 {
			return fmt.Errorf("op-1 before a write: %v %v", got, err)
		}
		if _, err := tx.Operation(ctx, "op-2"); deconflict.ErrorCode(err) != deconflict.ENotFound {
			return fmt.Errorf("op-2 before it is stored: %v, want not found", err)
		}
		// A caller changing what it got changes nothing stored.
		got, _ := tx.Operation(ctx, "op-1")
		got.Priority = 9
		if again, _ := tx.Operation(ctx, "op-1"); again.Priority != 1 {
			return fmt.Errorf("op-1 changed by its reader: priority %d", again.Priority)
		}
		if err := tx.PutOperation(ctx, op("op-1", "alpha", 2)); err != nil {
			return err
		}
		if err := tx.PutOperation(ctx, op("op-2", "alpha", 3)); err != nil {
			return err
		}
		if got, err := tx.Operation(ctx, "op-1"); err != nil || got.Priority != 2 {
			return fmt.Errorf("op-1 after its write: %v %v", got, err)
		}
		if got, err := tx.Operation(ctx, "op-2"); err != nil || got.Priority != 3 {
			return fmt.Errorf("op-2 after its write: %v %v", got, err)
		}
		s, err := tx.Settings(ctx)
		if err != nil || s != deconflict.DefaultSettings() {
			return fmt.Errorf("settings before a write: %+v %v", s, err)
		}
		s.AckTimeoutS = 123
		if err := tx.PutSettings(ctx, s); err != nil {
			return err
		}
		if s, err := tx.Settings(ctx); err != nil || s.AckTimeoutS != 123 {
			return fmt.Errorf("settings after a write: %+v %v", s, err)
		}
		if ps, err := tx.Parties(ctx); err != nil || len(ps) != 1 {
			return fmt.Errorf("parties before a write: %v %v", ps, err)
		}
		if err := tx.CreateParty(ctx, &deconflict.Party{ID: "bravo", Name: "B", CreatedAt: now}); err != nil {
			return err
		}
		if ps, err := tx.Parties(ctx); err != nil || len(ps) != 2 {
			return fmt.Errorf("parties after a write: %v %v", ps, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
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

// Log hashes stored past the highest one the prefetch read go without a
// round trip of their own, and clashes are still refused with EExists:
// with the transaction's own hashes, and with hashes stored before.
func TestPrefetchLogHashes(t *testing.T) {
	db := MustOpen(t, "")
	ctx := t.Context()
	hashes := func(n int, b byte) [][32]byte {
		out := make([][32]byte, n)
		for i := range out {
			out[i][0], out[i][1] = b, byte(i)
		}
		return out
	}
	if err := db.Update(ctx, func(tx deconflict.Tx) error { return tx.PutLogHashes(ctx, 0, hashes(3, 1)) }); err != nil {
		t.Fatal(err)
	}
	err := db.Update(ctx, func(tx deconflict.Tx) error {
		tx.(deconflict.Prefetcher).Prefetch(nil, 0)
		if _, err := tx.LastSeq(ctx); err != nil {
			return err
		}
		if err := tx.PutLogHashes(ctx, 3, hashes(2, 2)); err != nil {
			return err
		}
		if err := tx.PutLogHashes(ctx, 4, hashes(1, 3)); deconflict.ErrorCode(err) != deconflict.EExists {
			return fmt.Errorf("over its own hash: %v, want EExists", err)
		}
		if err := tx.PutLogHashes(ctx, 1, hashes(1, 3)); deconflict.ErrorCode(err) != deconflict.EExists {
			return fmt.Errorf("over a hash stored before: %v, want EExists", err)
		}
		return tx.PutLogHashes(ctx, 5, hashes(1, 4))
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.View(ctx, func(tx deconflict.Tx) error {
		got, err := tx.LogHashes(ctx, []int64{0, 3, 4, 5})
		if err != nil {
			return err
		}
		if got[0] != hashes(1, 1)[0] || got[1] != hashes(2, 2)[0] || got[2] != hashes(2, 2)[1] || got[3] != hashes(1, 4)[0] {
			return fmt.Errorf("hashes read back: %x", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// OperationsSince answered from the prefetch walks what it walks without
// one, in the same order, and an operation written during the walk is
// met as written.
func TestPrefetchOperationsSince(t *testing.T) {
	db := MustOpen(t, "")
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	op := func(id string, rev int64, prio int) *deconflict.Operation {
		return &deconflict.Operation{ID: id, Party: "alpha", Version: 1, State: deconflict.StatePlanned, Priority: prio, Rev: rev,
			Start: now, End: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}
	}
	if err := db.Update(ctx, func(tx deconflict.Tx) error {
		for i, rev := range []int64{5, 3, 9, 3, 1} {
			if err := tx.PutOperation(ctx, op(fmt.Sprintf("op-%d", i), rev, 0)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	walk := func(prefetch bool, write bool) string {
		var got string
		err := db.Update(ctx, func(tx deconflict.Tx) error {
			if prefetch {
				tx.(deconflict.Prefetcher).Prefetch(nil, 2)
				if _, err := tx.LastSeq(ctx); err != nil { // the prefetch goes with it
					return err
				}
			}
			return tx.OperationsSince(ctx, 2, false, func(o *deconflict.Operation) error {
				got += fmt.Sprintf("%s/%d/%d ", o.ID, o.Rev, o.Priority)
				if write && o.ID == "op-1" {
					return tx.PutOperation(ctx, op("op-0", 5, 7)) // later in the walk
				}
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	plain := walk(false, false)
	if want := "op-1/3/0 op-3/3/0 op-0/5/0 op-2/9/0 "; plain != want {
		t.Fatalf("without a prefetch: %q, want %q", plain, want)
	}
	if got := walk(true, false); got != plain {
		t.Errorf("from the prefetch: %q, want %q", got, plain)
	}
	if got, want := walk(true, true), "op-1/3/0 op-3/3/0 op-0/5/7 op-2/9/0 "; got != want {
		t.Errorf("from the prefetch, writing op-0 during the walk: %q, want %q", got, want)
	}
}
