package record_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/record"
	"github.com/deconflict/deconflict/sqlite"
)

// benchLog returns a sqlite store whose log holds n events, built in
// large transactions, and reports how fast the appends went.
func benchLog(b *testing.B, n int64) dc.Store {
	b.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, b.TempDir()+"/log.db")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	data, _ := json.Marshal(map[string]any{"operation": map[string]any{"id": "00000000-0000-0000-0000-000000000000", "version": 1}})
	start := time.Now()
	const perTx = 20000
	for done := int64(0); done < n; {
		err := st.Update(ctx, func(tx dc.Tx) error {
			for i := 0; i < perTx && done < n; i++ {
				e := &dc.Event{Type: dc.EventOperationDeclared, Time: time.Unix(1700000000+done, 0).UTC(),
					Actor: dc.Actor{Party: "alpha", Role: dc.RoleOperator}, Subject: &dc.Subject{Kind: "operation", ID: fmt.Sprint(done)}, Data: data}
				if err := tx.AppendEvent(ctx, e); err != nil {
					return err
				}
				if err := record.Append(ctx, tx, e); err != nil {
					return err
				}
				done++
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	el := time.Since(start)
	b.Logf("appended %d events (event row + log hashes) in %s: %.0f appends/s", n, el, float64(n)/el.Seconds())
	return st
}

// BenchmarkProofs measures inclusion and consistency proof generation on a
// log of DECONFLICT_BENCH_LOG entries (default 100,000; the published
// figure uses 1,000,000). The checked variants are what the server serves:
// every stored hash read is checked against those below it, and the proof
// against the tree hash (record.Checked, CheckedInclusionProof).
func BenchmarkProofs(b *testing.B) {
	n := int64(100_000)
	if v := os.Getenv("DECONFLICT_BENCH_LOG"); v != "" {
		fmt.Sscan(v, &n)
	}
	st := benchLog(b, n)
	ctx := context.Background()
	b.Run("inclusion", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			err := st.View(ctx, func(tx dc.Tx) error {
				_, err := record.InclusionProof(ctx, tx, int64(i*7919)%n, n)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("consistency", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			err := st.View(ctx, func(tx dc.Tx) error {
				_, err := record.ConsistencyProof(ctx, tx, 1+int64(i*7919)%(n-1), n)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("inclusion/checked", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			err := st.View(ctx, func(tx dc.Tx) error {
				_, _, err := record.CheckedInclusionProof(ctx, tx, int64(i*7919)%n, n)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("consistency/checked", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			err := st.View(ctx, func(tx dc.Tx) error {
				_, err := record.CheckedConsistencyProof(ctx, tx, 1+int64(i*7919)%(n-1), n)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("checkpoint/checked", func(b *testing.B) {
		k, _ := record.NewKey("bench-k1", time.Now())
		for i := 0; i < b.N; i++ {
			err := st.View(ctx, func(tx dc.Tx) error {
				_, err := record.Checkpoint(ctx, record.Checked(tx), "bench", n, []*dc.SigningKey{k})
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("checkpoint", func(b *testing.B) {
		k, _ := record.NewKey("bench-k1", time.Now())
		for i := 0; i < b.N; i++ {
			err := st.View(ctx, func(tx dc.Tx) error {
				_, err := record.Checkpoint(ctx, tx, "bench", n, []*dc.SigningKey{k})
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}
