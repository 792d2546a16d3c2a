package sqlite

import (
	"testing"

	"github.com/deconflict/deconflict"
)

// TestPutLogHashesInView checks that a read transaction refuses to store
// log hashes rather than hold them for a commit that never comes.
func TestPutLogHashesInView(t *testing.T) {
	db := MustOpen(t, "")
	ctx := t.Context()
	if err := db.View(ctx, func(tx deconflict.Tx) error { return tx.PutLogHashes(ctx, 0, make([][32]byte, 2)) }); err == nil {
		t.Fatal("PutLogHashes in a View: no error")
	}
	wantLogRows(t, db, 0)
}

// TestHeldRowsFailure checks that a transaction whose held-back rows
// failed to go in does not commit, even if its caller carries on as if
// nothing happened: the rows are gone from it.
func TestHeldRowsFailure(t *testing.T) {
	db := MustOpen(t, "")
	ctx := t.Context()
	err := db.Update(ctx, func(dtx deconflict.Tx) error {
		tx := dtx.(*tx)
		if err := tx.PutLogHashes(ctx, 10, make([][32]byte, 3)); err != nil { // held back
			return err
		}
		// A row the held ones will collide with, behind the store's back.
		if _, err := tx.exec(ctx, "INSERT INTO log_hashes (idx, hash) VALUES (11, ?)", make([]byte, 32)); err != nil {
			return err
		}
		// This put flushes the held rows first, which fails; the caller
		// ignores it.
		if err := tx.PutLogHashes(ctx, 0, make([][32]byte, 1)); err == nil {
			t.Error("PutLogHashes after a failed flush: no error")
		}
		return nil
	})
	if err == nil {
		t.Fatal("Update committed after its held rows failed to go in")
	}
	wantLogRows(t, db, 0)
}

// wantLogRows fails unless the store holds n log hashes.
func wantLogRows(t *testing.T, db *DB, n int) {
	t.Helper()
	var got int
	if err := db.read.QueryRowContext(t.Context(), "SELECT count(*) FROM log_hashes").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != n {
		t.Errorf("%d log hashes stored, want %d", got, n)
	}
}
