package storetest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deconflict/deconflict"
)

// Bench runs the benchmarks of a store's transactions on the new, empty
// stores open returns, the same for every store so that their numbers
// compare:
//   - Update: small write transactions, one at a time, each storing an
//     operation and appending an event (AppendOne), durable when Update
//     returns;
//   - UpdateParallel: the same from many goroutines, which queue for the
//     write lock;
//   - View: a read transaction that looks up one operation;
//   - LogHashes: what a declaration does to the log, store two hashes and
//     read two back, in one write transaction each (Update) or all in
//     one (InTx);
//   - RevokedTokens, of a store that counts revocations
//     (deconflict.RevocationCounter): what every authenticated request
//     asks, with few and with many tokens.
func Bench(b *testing.B, open func(b *testing.B) deconflict.Store) {
	b.Run("Update", func(b *testing.B) { benchUpdate(b, open(b)) })
	b.Run("UpdateParallel", func(b *testing.B) { benchUpdateParallel(b, open(b)) })
	b.Run("View", func(b *testing.B) { benchView(b, open(b)) })
	b.Run("LogHashes", func(b *testing.B) { benchLogHashes(b, open) })
	b.Run("RevokedTokens", func(b *testing.B) { benchRevokedTokens(b, open) })
}

// OperationID returns the ID of the i-th operation AppendOne stores.
func OperationID(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", i) }

// AppendOne stores operation i (OperationID(i), a planned operation of
// party alpha with one small volume, its Rev the event's seq) and an
// event about it, {"i": i}, in one Update.
func AppendOne(ctx context.Context, s deconflict.Store, i int) (*deconflict.Event, error) {
	now := time.Now()
	op := &deconflict.Operation{
		ID: OperationID(i), Party: "alpha", Version: 1, State: deconflict.StatePlanned,
		Volumes:   []deconflict.Volume4D{benchVolume()},
		CreatedAt: now, UpdatedAt: now, Start: now, End: now.Add(time.Hour),
	}
	e := &deconflict.Event{
		Type: deconflict.EventOperationDeclared, Time: now,
		Subject: &deconflict.Subject{Kind: "operation", ID: op.ID},
		Data:    []byte(fmt.Sprintf(`{"i":%d}`, i)),
	}
	err := s.Update(ctx, func(tx deconflict.Tx) error {
		if err := tx.AppendEvent(ctx, e); err != nil {
			return err
		}
		op.Rev = e.Seq
		return tx.PutOperation(ctx, op)
	})
	return e, err
}

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

func benchUpdate(b *testing.B, s deconflict.Store) {
	ctx := context.Background()
	i := 0
	for b.Loop() {
		if _, err := AppendOne(ctx, s, i); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tx/s")
}

func benchUpdateParallel(b *testing.B, s deconflict.Store) {
	ctx := context.Background()
	var n atomic.Int64
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := AppendOne(ctx, s, int(n.Add(1))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tx/s")
}

func benchView(b *testing.B, s deconflict.Store) {
	ctx := context.Background()
	for i := range 1000 {
		if _, err := AppendOne(ctx, s, i); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			if err := s.View(ctx, func(tx deconflict.Tx) error {
				_, err := tx.Operation(ctx, OperationID(i%1000))
				return err
			}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func benchLogHashes(b *testing.B, open func(b *testing.B) deconflict.Store) {
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
		s := open(b)
		var i int64
		for b.Loop() {
			if err := s.Update(ctx, func(tx deconflict.Tx) error { return step(ctx, tx, i) }); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("InTx", func(b *testing.B) {
		s := open(b)
		if err := s.Update(ctx, func(tx deconflict.Tx) error {
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

func benchRevokedTokens(b *testing.B, open func(b *testing.B) deconflict.Store) {
	for _, n := range []int{10, 10000} {
		b.Run(fmt.Sprintf("tokens=%d", n), func(b *testing.B) {
			s := open(b)
			rc, ok := s.(deconflict.RevocationCounter)
			if !ok {
				b.Skip("the store does not count revocations")
			}
			ctx := context.Background()
			CreateTokens(b, s, n, 10)
			b.ResetTimer()
			for range b.N {
				if _, err := rc.RevokedTokens(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
