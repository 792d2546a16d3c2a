package sqlite

import (
	"testing"

	"github.com/deconflict/deconflict"
)

// TestPrefetchReadsBatchOnce: the first read of an operation a batch
// named reads them all. (What a prefetch must answer, every store's
// prefetch answers: storetest's Prefetch.)
func TestPrefetchReadsBatchOnce(t *testing.T) {
	db := MustOpen(t, "")
	ctx := t.Context()
	err := db.Update(ctx, func(dtx deconflict.Tx) error {
		dtx.(deconflict.Prefetcher).Prefetch([]string{"op-1", "op-2"}, 0)
		tx := dtx.(*tx)
		if _, err := tx.Operation(ctx, "op-1"); deconflict.ErrorCode(err) != deconflict.ENotFound {
			t.Errorf("op-1, never stored: %v, want not found", err)
		}
		if tx.pre == nil || !tx.pre.loaded {
			t.Error("the first read did not read the batch's operations")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
