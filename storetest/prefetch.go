package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/deconflict/deconflict"
)

// testPrefetch checks a store whose write transactions read ahead
// (deconflict.Prefetcher): what they read after a Prefetch is what they
// read without one.
func testPrefetch(t *testing.T, f Factory) {
	for _, tc := range []struct {
		name string
		test func(*testing.T, deconflict.Store)
	}{
		{"ReadsBackWrites", testPrefetchReadsBackWrites},
		{"OperationsSince", testPrefetchOperationsSince},
		{"LogHashes", testPrefetchLogHashes},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := f.Open(t)
			skipUnless[deconflict.Prefetcher](t, s, "deconflict.Prefetcher")
			tc.test(t, s)
		})
	}
}

// prefetchOp returns a small planned operation.
func prefetchOp(id, party string, prio int, rev int64) *deconflict.Operation {
	now := at(0).UTC()
	return &deconflict.Operation{ID: id, Party: party, Version: 1, State: deconflict.StatePlanned, Priority: prio, Rev: rev,
		Start: now, End: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}
}

// updatePrefetching runs fn in an Update that first asks to prefetch the
// operations with the IDs and those changed since rev, and then reads
// LastSeq, a statement the store may send the prefetch with.
func updatePrefetching(t *testing.T, s deconflict.Store, ids []string, rev int64, fn func(ctx context.Context, tx deconflict.Tx) error) {
	t.Helper()
	update(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		tx.(deconflict.Prefetcher).Prefetch(ids, rev)
		if _, err := tx.LastSeq(ctx); err != nil {
			return err
		}
		return fn(ctx, tx)
	})
}

// testPrefetchReadsBackWrites: Operation, Settings and Parties answer what
// was stored before, an operation that is not there as not found, each
// read a copy of its own, and once the transaction wrote one, as written.
func testPrefetchReadsBackWrites(t *testing.T, s deconflict.Store) {
	update(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		if err := tx.CreateParty(ctx, &deconflict.Party{ID: "alpha", Name: "A", CreatedAt: at(0)}); err != nil {
			return err
		}
		return tx.PutOperation(ctx, prefetchOp("op-1", "alpha", 1, 0))
	})
	var notFound error
	view(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		_, notFound = tx.Operation(ctx, "op-2")
		return nil
	})
	updatePrefetching(t, s, []string{"op-1", "op-2", "op-3"}, 0, func(ctx context.Context, tx deconflict.Tx) error {
		if got, err := tx.Operation(ctx, "op-1"); err != nil || got.Priority != 1 || got.Party != "alpha" {
			return fmt.Errorf("op-1 before a write: %v %v", got, err)
		}
		if _, err := tx.Operation(ctx, "op-2"); deconflict.ErrorCode(err) != deconflict.ENotFound || err.Error() != notFound.Error() {
			return fmt.Errorf("op-2 before it is stored: %v, want %v", err, notFound)
		}
		// A caller changing what it got changes nothing stored.
		got, _ := tx.Operation(ctx, "op-1")
		got.Priority = 9
		if again, _ := tx.Operation(ctx, "op-1"); again.Priority != 1 {
			return fmt.Errorf("op-1 changed by its reader: priority %d", again.Priority)
		}
		if err := tx.PutOperation(ctx, prefetchOp("op-1", "alpha", 2, 0)); err != nil {
			return err
		}
		if err := tx.PutOperation(ctx, prefetchOp("op-2", "alpha", 3, 0)); err != nil {
			return err
		}
		if got, err := tx.Operation(ctx, "op-1"); err != nil || got.Priority != 2 {
			return fmt.Errorf("op-1 after its write: %v %v", got, err)
		}
		if got, err := tx.Operation(ctx, "op-2"); err != nil || got.Priority != 3 {
			return fmt.Errorf("op-2 after its write: %v %v", got, err)
		}
		if _, err := tx.Operation(ctx, "op-3"); deconflict.ErrorCode(err) != deconflict.ENotFound {
			return fmt.Errorf("op-3, never stored: %v, want not found", err)
		}
		st, err := tx.Settings(ctx)
		if err != nil || st != deconflict.DefaultSettings() {
			return fmt.Errorf("settings before a write: %+v %v", st, err)
		}
		st.AckTimeoutS = 123
		if err := tx.PutSettings(ctx, st); err != nil {
			return err
		}
		if st, err := tx.Settings(ctx); err != nil || st.AckTimeoutS != 123 {
			return fmt.Errorf("settings after a write: %+v %v", st, err)
		}
		if ps, err := tx.Parties(ctx); err != nil || len(ps) != 1 {
			return fmt.Errorf("parties before a write: %v %v", ps, err)
		}
		if err := tx.CreateParty(ctx, &deconflict.Party{ID: "bravo", Name: "B", CreatedAt: at(0)}); err != nil {
			return err
		}
		if ps, err := tx.Parties(ctx); err != nil || len(ps) != 2 {
			return fmt.Errorf("parties after a write: %v %v", ps, err)
		}
		return nil
	})
}

// testPrefetchOperationsSince: OperationsSince of the rev a Prefetch named
// walks what it walks without one, in the same order, also when fn
// writes an operation the walk has yet to meet.
func testPrefetchOperationsSince(t *testing.T, s deconflict.Store) {
	ops := make([]*deconflict.Operation, 0, 5)
	for i, rev := range []int64{5, 3, 9, 3, 1} {
		ops = append(ops, prefetchOp(fmt.Sprintf("op-%d", i), "alpha", 0, rev))
	}
	putAll(t, s, deconflict.Tx.PutOperation, ops...)
	// walk lists ID/rev of each operation met; with write, fn writes
	// op-0 when it meets op-1.
	walk := func(prefetch bool, write bool) string {
		var got string
		fn := func(ctx context.Context, tx deconflict.Tx) error {
			return tx.OperationsSince(ctx, 2, false, func(o *deconflict.Operation) error {
				got += fmt.Sprintf("%s/%d ", o.ID, o.Rev)
				if write && o.ID == "op-1" {
					return tx.PutOperation(ctx, prefetchOp("op-0", "alpha", 7, 5)) // later in the walk
				}
				return nil
			})
		}
		if prefetch {
			updatePrefetching(t, s, []string{"op-0", "op-1"}, 2, fn)
		} else {
			update(t, s, fn)
		}
		return got
	}
	plain := walk(false, false)
	if want := "op-1/3 op-3/3 op-0/5 op-2/9 "; plain != want {
		t.Fatalf("without a prefetch: %q, want %q", plain, want)
	}
	if got := walk(true, false); got != plain {
		t.Errorf("after a prefetch: %q, want %q", got, plain)
	}
	if got := walk(true, true); got != plain {
		t.Errorf("after a prefetch, writing op-0 during the walk: %q, want %q", got, plain)
	}
}

// testPrefetchLogHashes: log hashes stored after a Prefetch are refused
// with EExists where one is stored, by the transaction itself or before
// it, and kept where none is.
func testPrefetchLogHashes(t *testing.T, s deconflict.Store) {
	hashes := func(n int, b byte) [][32]byte {
		out := make([][32]byte, n)
		for i := range out {
			out[i][0], out[i][1] = b, byte(i)
		}
		return out
	}
	putLogHashes(t, s, 0, hashes(3, 1))
	updatePrefetching(t, s, nil, 0, func(ctx context.Context, tx deconflict.Tx) error {
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
	got := read(t, s, func(ctx context.Context, tx deconflict.Tx) ([][32]byte, error) {
		return tx.LogHashes(ctx, []int64{0, 3, 4, 5})
	})
	equal(t, "hashes read back", got, [][32]byte{hashes(1, 1)[0], hashes(2, 2)[0], hashes(2, 2)[1], hashes(1, 4)[0]})
}
