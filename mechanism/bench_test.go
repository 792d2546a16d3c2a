package mechanism_test

import (
	"context"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/sqlite"
	"github.com/google/uuid"
)

// BenchmarkDeclareParallel measures declarations per second through the
// mechanism (no HTTP) on the embedded store, with 8 concurrent callers and
// sparse conflicts, so the cost is the rules, the index and the store.
func BenchmarkDeclareParallel(b *testing.B) {
	ctx := context.Background()
	m, clk := mustOpen(b)
	rng := rand.New(rand.NewPCG(1, 1))
	decls := make([]mechanism.Declaration, b.N)
	for i := range decls {
		start := clk.Now().Add(time.Duration(1+rng.IntN(7*24*60)) * time.Minute)
		decls[i] = circleDecl(25+rng.Float64()*20, 25+rng.Float64()*25, start, start.Add(time.Duration(10+rng.IntN(240))*time.Minute))
	}
	actors := []dc.Actor{{Party: "alpha", Role: dc.RoleOperator}, {Party: "bravo", Role: dc.RoleOperator}}
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= b.N {
					return
				}
				if _, err := m.Declare(ctx, actors[i%2], uuid.NewString(), decls[i], nil); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "decl/s")
	st := m.Stats()
	b.ReportMetric(float64(st.BatchedWrites.Load())/float64(st.Batches.Load()), "writes/batch")
	b.ReportMetric(float64(st.BatchNanos.Load())/float64(st.Batches.Load())/1e6, "ms/batch")
}

// BenchmarkLoad measures a restart: opening a copy of the SQLite store
// DECONFLICT_BENCH_STORE (for instance the template that
// cmd/deconflict's BenchmarkDeclareHTTPLive leaves in the temporary
// directory) and loading its live operations into the index.
func BenchmarkLoad(b *testing.B) {
	src := os.Getenv("DECONFLICT_BENCH_STORE")
	if src == "" {
		b.Skip("DECONFLICT_BENCH_STORE names no store")
	}
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		path := filepath.Join(b.TempDir(), "deconflict.db")
		in, err := os.Open(src)
		if err != nil {
			b.Fatal(err)
		}
		out, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			b.Fatal(err)
		}
		in.Close()
		out.Close()
		b.StartTimer()
		st, err := sqlite.Open(ctx, path)
		if err != nil {
			b.Fatal(err)
		}
		m := mechanism.New(st, mechanism.Options{})
		if err := m.Load(ctx); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(m.LiveOperations()), "live-ops")
		b.StopTimer()
		st.Close()
		b.StartTimer()
	}
}
