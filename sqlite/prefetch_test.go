package sqlite

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/deconflict/deconflict"
)

// TestPrefetchReadsBackWrites: operations a batch named are read as the
// table holds them, one that is not there as not found, each read a copy
// of its own, and once the transaction wrote one it reads it back as
// written.
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
	err := db.Update(ctx, func(dtx deconflict.Tx) error {
		dtx.(deconflict.Prefetcher).Prefetch([]string{"op-1", "op-2", "op-3"}, 0)
		tx := dtx.(*tx)
		if got, err := tx.Operation(ctx, "op-1"); err != nil || got.Priority != 1 || got.Party != "alpha" {
			return fmt.Errorf("op-1 before a write: %v %v", got, err)
		}
		if tx.pre == nil || !tx.pre.loaded {
			return errors.New("the first read did not read the batch's operations")
		}
		_, wantErr := tx.shared().Operation(ctx, "op-2")
		if _, err := tx.Operation(ctx, "op-2"); deconflict.ErrorCode(err) != deconflict.ENotFound || err.Error() != wantErr.Error() {
			return fmt.Errorf("op-2 before it is stored: %v, want %v", err, wantErr)
		}
		// A caller changing what it got changes nothing kept.
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
		if _, err := tx.Operation(ctx, "op-3"); deconflict.ErrorCode(err) != deconflict.ENotFound {
			return fmt.Errorf("op-3, never stored: %v, want not found", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
