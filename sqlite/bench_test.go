package sqlite

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/storetest"
)

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

// BenchmarkUpdate measures small write transactions, one at a time: each
// stores an operation and appends an event, and is on disk when Update
// returns (synchronous=FULL).
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
// queue for the one writer, so it measures the same disk-bound rate.
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

// BenchmarkRevokedTokens is what every authenticated request asks the
// store (deconflict.RevocationCounter), with few and with many tokens.
func BenchmarkRevokedTokens(b *testing.B) {
	for _, n := range []int{10, 10000} {
		b.Run(fmt.Sprintf("tokens=%d", n), func(b *testing.B) {
			db := MustOpen(b, "")
			ctx := context.Background()
			storetest.CreateTokens(b, db, n, 10)
			b.ResetTimer()
			for range b.N {
				if _, err := db.RevokedTokens(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
