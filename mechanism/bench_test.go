package mechanism_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/geo"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/record"
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
	st := m.Health().Stats()
	b.ReportMetric(float64(st.BatchedWrites.Load())/float64(st.Batches.Load()), "writes/batch")
	b.ReportMetric(float64(st.BatchNanos.Load())/float64(st.Batches.Load())/1e6, "ms/batch")
}

// BenchmarkLoad measures a restart: opening a copy of a SQLite store and
// loading its live operations into the index, and the heap the loaded
// mechanism holds (heap-B/op, with runtime.MemStats after a GC, geometry
// included). The store is DECONFLICT_BENCH_STORE (for instance the
// template that cmd/deconflict's BenchmarkDeclareHTTPLive leaves in the
// temporary directory), loaded as it is ("stored") and after keeping the
// compact geometry of every live operation ("geometry", a copy made once
// beside it in the temporary directory); or else, with
// DECONFLICT_BENCH_LOAD_OPS=N, a store of N live operations written
// directly with their geometry (kept in the temporary directory).
func BenchmarkLoad(b *testing.B) {
	if src := os.Getenv("DECONFLICT_BENCH_STORE"); src != "" {
		b.Run("stored", func(b *testing.B) { benchLoad(b, src) })
		b.Run("geometry", func(b *testing.B) { benchLoad(b, geometryTemplate(b, src)) })
		return
	}
	n, _ := strconv.Atoi(os.Getenv("DECONFLICT_BENCH_LOAD_OPS"))
	if n <= 0 {
		b.Skip("neither DECONFLICT_BENCH_STORE nor DECONFLICT_BENCH_LOAD_OPS is set")
	}
	src := loadTemplate(b, n)
	b.Run(fmt.Sprintf("ops=%d", n), func(b *testing.B) { benchLoad(b, src) })
	b.Run(fmt.Sprintf("ops=%d/snapshot", n), func(b *testing.B) { benchLoadSnapshot(b, src) })
}

// benchLoadSnapshot times a restart that reads the index snapshot saved by
// the run before it.
func benchLoadSnapshot(b *testing.B, src string) {
	ctx := context.Background()
	dir := b.TempDir()
	path := filepath.Join(dir, "deconflict.db")
	copyFile(b, src, path)
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	opts := mechanism.Options{IndexSnapshot: path + ".index"}
	m := mechanism.New(st, opts)
	if err := m.Load(ctx); err != nil {
		b.Fatal(err)
	}
	saved := time.Now()
	if err := m.Index().SaveIndex(ctx); err != nil {
		b.Fatal(err)
	}
	took := time.Since(saved)
	fi, err := os.Stat(opts.IndexSnapshot)
	if err != nil {
		b.Fatal(err)
	}
	perOp := float64(fi.Size()) / float64(m.Index().LiveOperations())
	m = nil
	for b.Loop() {
		var logs strings.Builder
		var before, after runtime.MemStats
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.StartTimer()
		opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		m := mechanism.New(st, opts)
		if err := m.Load(ctx); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if !strings.Contains(logs.String(), "from=snapshot") {
			b.Fatalf("the snapshot was not used:\n%s", logs.String())
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric((float64(after.HeapAlloc)-float64(before.HeapAlloc))/float64(m.Index().LiveOperations()), "heap-B/op")
		runtime.KeepAlive(m)
		b.StartTimer()
	}
	b.ReportMetric(took.Seconds(), "save-s")
	b.ReportMetric(perOp, "file-B/op")
}

func benchLoad(b *testing.B, src string) {
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		path := filepath.Join(b.TempDir(), "deconflict.db")
		copyFile(b, src, path)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.StartTimer()
		st, err := sqlite.Open(ctx, path)
		if err != nil {
			b.Fatal(err)
		}
		m := mechanism.New(st, mechanism.Options{})
		if err := m.Load(ctx); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		n := m.Index().LiveOperations()
		b.ReportMetric(float64(n), "live-ops")
		b.ReportMetric((float64(after.HeapAlloc)-float64(before.HeapAlloc))/float64(n), "heap-B/op")
		runtime.KeepAlive(m)
		st.Close()
		b.StartTimer()
	}
}

func copyFile(tb testing.TB, src, dst string) {
	tb.Helper()
	in, err := os.Open(src)
	if err != nil {
		tb.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		tb.Fatal(err)
	}
	if err := out.Close(); err != nil {
		tb.Fatal(err)
	}
}

// keptStore returns dst, an SQLite store that fill made once (in a file
// beside it, renamed to dst once filled), from a copy of the store src or,
// if src is "", a new one.
func keptStore(b *testing.B, dst, src string, fill func(ctx context.Context, st dc.Store) error) string {
	if _, err := os.Stat(dst); err == nil {
		return dst
	}
	ctx := context.Background()
	tmp := dst + ".tmp"
	os.Remove(tmp)
	if src != "" {
		copyFile(b, src, tmp)
	}
	st, err := sqlite.Open(ctx, tmp)
	if err != nil {
		b.Fatal(err)
	}
	err = fill(ctx, st)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		b.Fatal(err)
	}
	return dst
}

// geometryTemplate returns a copy of the store src in which every live
// operation keeps its compact geometry, made once.
func geometryTemplate(b *testing.B, src string) string {
	dst := filepath.Join(os.TempDir(), "deconflict-bench-geometry-"+filepath.Base(src))
	return keptStore(b, dst, src, func(ctx context.Context, st dc.Store) error {
		return st.Update(ctx, func(tx dc.Tx) error {
			var ops []*dc.Operation
			if err := tx.OperationsSince(ctx, 0, true, func(op *dc.Operation) error { ops = append(ops, op); return nil }); err != nil {
				return err
			}
			for _, op := range ops {
				vols, err := geo.ParseVolumes(op.Volumes, "volumes")
				if err != nil {
					return err
				}
				if err := tx.(dc.GeometryTx).PutOperationGeometry(ctx, op, geo.EncodeVolumes(vols)); err != nil {
					return err
				}
			}
			return nil
		})
	})
}

// loadTemplate returns a store of n live operations (circles and polygons
// of 4 to 16 vertices, 1 to 50 km across, over the eastern Mediterranean,
// within a week, one to three volumes each), each with its compact
// geometry and its declaration in the log, made once.
func loadTemplate(b *testing.B, n int) string {
	dst := filepath.Join(os.TempDir(), fmt.Sprintf("deconflict-bench-load-%d-logged.db", n))
	return keptStore(b, dst, "", func(ctx context.Context, st dc.Store) error {
		rng := rand.New(rand.NewPCG(uint64(n), 3))
		now := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
		const batch = 10_000
		for i := 0; i < n; i += batch {
			if err := st.Update(ctx, func(tx dc.Tx) error {
				for j := i; j < min(i+batch, n); j++ {
					op := benchOperation(rng, j, now)
					vols, err := geo.ParseVolumes(op.Volumes, "volumes")
					if err != nil {
						return err
					}
					op.Start, op.End = vols[0].Start, vols[len(vols)-1].End
					// Each operation comes with its declaration in the log, as
					// in a store the mechanism filled: the operation's rev is
					// the event's seq.
					e := &dc.Event{Type: dc.EventOperationDeclared, Time: now,
						Actor:   dc.Actor{Party: op.Party, Role: dc.RoleOperator, TokenID: "bench"},
						Subject: &dc.Subject{Kind: "operation", ID: op.ID}}
					if e.Data, err = json.Marshal(op); err != nil {
						return err
					}
					if err := tx.AppendEvent(ctx, e); err != nil {
						return err
					}
					if err := record.Append(ctx, tx, e); err != nil {
						return err
					}
					op.Rev = e.Seq
					if err := tx.(dc.GeometryTx).PutOperationGeometry(ctx, op, geo.EncodeVolumes(vols)); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
}

func benchOperation(rng *rand.Rand, i int, now time.Time) *dc.Operation {
	start := now.Add(time.Duration(1+rng.IntN(7*24*60)) * time.Minute)
	op := &dc.Operation{
		ID: uuid.NewString(), Party: []string{"alpha", "bravo", "charlie"}[i%3], Version: 1, State: dc.StatePlanned,
		CreatedAt: now, UpdatedAt: now, Rev: int64(i + 1),
	}
	lat, lng := 29+8*rng.Float64(), 29+14*rng.Float64()
	for range 1 + rng.IntN(3)*rng.IntN(2) {
		end := start.Add(time.Duration(5+rng.IntN(240)) * time.Minute)
		sizeM := math.Exp(math.Log(1000) + rng.Float64()*math.Log(50))
		v := dc.Volume4D{
			TimeStart: &dc.Time{Value: start.Format(time.RFC3339Nano), Format: "RFC3339"},
			TimeEnd:   &dc.Time{Value: end.Format(time.RFC3339Nano), Format: "RFC3339"},
		}
		if rng.IntN(2) == 0 {
			v.Volume.OutlineCircle = &dc.Circle{Center: &dc.LatLng{Lat: dc.Float(lat), Lng: dc.Float(lng)}, Radius: &dc.Measure{Value: dc.Float(sizeM / 2), Units: "M"}}
		} else {
			k := 4 + rng.IntN(13)
			poly := &dc.Polygon{}
			for j := range k {
				a := 2 * math.Pi * float64(j) / float64(k)
				d := sizeM / 2 / 111_000
				poly.Vertices = append(poly.Vertices, dc.LatLng{Lat: dc.Float(lat + d*math.Sin(a)), Lng: dc.Float(lng + d*math.Cos(a)/math.Cos(lat*math.Pi/180))})
			}
			v.Volume.OutlinePolygon = poly
		}
		lower := 12000 * rng.Float64()
		v.Volume.AltitudeLower = &dc.Altitude{Value: dc.Float(lower), Reference: "W84", Units: "M"}
		v.Volume.AltitudeUpper = &dc.Altitude{Value: dc.Float(lower + 150 + 2000*rng.Float64()), Reference: "W84", Units: "M"}
		op.Volumes = append(op.Volumes, v)
		start, lat = end, lat+sizeM/111_000
	}
	return op
}
