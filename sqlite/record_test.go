package sqlite

import (
	"context"
	"crypto/sha256"
	"math"
	"testing"

	"github.com/deconflict/deconflict"
)

// TestPutLogHashesRange checks that indexes outside tlog's range are
// refused, not stored.
func TestPutLogHashesRange(t *testing.T) {
	db := MustOpen(t, "")
	ctx := t.Context()
	for _, c := range []struct {
		start int64
		n     int
	}{{-1, 1}, {-5, 3}, {math.MaxInt64, 2}, {math.MinInt64, 0}} {
		err := db.Update(ctx, func(tx deconflict.Tx) error {
			return tx.PutLogHashes(ctx, c.start, make([][32]byte, c.n))
		})
		if code := deconflict.ErrorCode(err); code != deconflict.EInvalid {
			t.Errorf("PutLogHashes(%d, %d hashes): error %v, want %s", c.start, c.n, err, deconflict.EInvalid)
		}
	}
	var n int
	if err := db.read.QueryRowContext(ctx, "SELECT count(*) FROM log_hashes").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d hashes stored, want 0", n)
	}
}

// BenchmarkLogHashes measures what a declaration does to the log: store
// two hashes, then read two back. Update is one write transaction each,
// on disk when it returns; InTx the calls alone, all in one transaction.
func BenchmarkLogHashes(b *testing.B) {
	ctx := context.Background()
	step := func(ctx context.Context, tx deconflict.Tx, i int64) error {
		h0, h1 := sha256.Sum256([]byte{byte(i), 0}), sha256.Sum256([]byte{byte(i), 1})
		if err := tx.PutLogHashes(ctx, 2*i, [][32]byte{h0, h1}); err != nil {
			return err
		}
		hs, err := tx.LogHashes(ctx, []int64{2 * i, 2*i + 1})
		if err == nil && (hs[0] != h0 || hs[1] != h1) {
			b.Fatalf("LogHashes at %d: wrong hashes", 2*i)
		}
		return err
	}
	b.Run("Update", func(b *testing.B) {
		db := MustOpen(b, "")
		var i int64
		for b.Loop() {
			if err := db.Update(ctx, func(tx deconflict.Tx) error { return step(ctx, tx, i) }); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("InTx", func(b *testing.B) {
		db := MustOpen(b, "")
		if err := db.Update(ctx, func(tx deconflict.Tx) error {
			var i int64
			for b.Loop() {
				if err := step(ctx, tx, i); err != nil {
					return err
				}
				i++
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	})
}
