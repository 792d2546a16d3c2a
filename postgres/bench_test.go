package postgres

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deconflict/deconflict"
)

// The benchmarks are those of the SQLite store, for comparison.

// benchVolume returns a small volume: a four-vertex polygon.
func benchVolume() deconflict.Volume4D {
	ll := func(lat, lng float64) deconflict.LatLng { return deconflict.LatLng{Lat: &lat, Lng: &lng} }
	return deconflict.Volume4D{
		Volume: deconflict.Volume3D{
			OutlinePolygon: &deconflict.Polygon{Vertices: []deconflict.LatLng{
				ll(33.5, 36.3), ll(33.6, 36.3), ll(33.6, 36.45), ll(33.5, 36.45),
			}},
			AltitudeLower: &deconflict.Altitude{Value: deconflict.Float(1000), Reference: "W84", Units: "M"},
			AltitudeUpper: &deconflict.Altitude{Value: deconflict.Float(3000), Reference: "W84", Units: "M"},
		},
		TimeStart: &deconflict.Time{Value: "2026-11-25T12:00:00Z", Format: "RFC3339"},
		TimeEnd:   &deconflict.Time{Value: "2026-11-25T13:30:00Z", Format: "RFC3339"},
	}
}

// opID returns the i-th operation ID.
func opID(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", i) }

// appendOne stores operation i and an event about it in one Update.
func appendOne(ctx context.Context, db *DB, i int) (*deconflict.Event, error) {
	now := time.Now()
	op := &deconflict.Operation{
		ID: opID(i), Party: "alpha", Version: 1, State: deconflict.StatePlanned,
		Volumes:   []deconflict.Volume4D{benchVolume()},
		CreatedAt: now, UpdatedAt: now, Start: now, End: now.Add(time.Hour),
	}
	e := &deconflict.Event{
		Type: deconflict.EventOperationDeclared, Time: now,
		Subject: &deconflict.Subject{Kind: "operation", ID: op.ID},
		Data:    []byte(fmt.Sprintf(`{"i":%d}`, i)),
	}
	err := db.Update(ctx, func(tx deconflict.Tx) error {
		if err := tx.AppendEvent(ctx, e); err != nil {
			return err
		}
		op.Rev = e.Seq
		return tx.PutOperation(ctx, op)
	})
	return e, err
}

// BenchmarkUpdate measures small write transactions, one at a time: each
// stores an operation and appends an event, and is durable when Update
// returns (synchronous_commit on).
func BenchmarkUpdate(b *testing.B) {
	db := MustOpen(b, "")
	ctx := context.Background()
	i := 0
	for b.Loop() {
		if _, err := appendOne(ctx, db, i); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tx/s")
}

// BenchmarkUpdateParallel is BenchmarkUpdate from many goroutines: they
// queue for the write lock.
func BenchmarkUpdateParallel(b *testing.B) {
	db := MustOpen(b, "")
	ctx := context.Background()
	var n atomic.Int64
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := appendOne(ctx, db, int(n.Add(1))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tx/s")
}

// BenchmarkView measures a read transaction that looks up one operation.
func BenchmarkView(b *testing.B) {
	db := MustOpen(b, "")
	ctx := context.Background()
	for i := range 1000 {
		if _, err := appendOne(ctx, db, i); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			if err := db.View(ctx, func(tx deconflict.Tx) error {
				_, err := tx.Operation(ctx, opID(i%1000))
				return err
			}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkLogHashes measures what a declaration does to the log: store
// two hashes, then read two back. Update is one write transaction each;
// InTx the calls alone, all in one transaction.
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
