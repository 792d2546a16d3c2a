package geo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/deconflict/deconflict"
)

// BenchmarkIndexConflictsArea checks against indexes whose airspace grows
// with the number of operations, so that their density stays that of
// BenchmarkIndexConflicts at 100,000: 20,000 operations lie anywhere on
// the globe, and the others in the regional box of benchOp (8° of
// latitude by 14° of longitude around the Levant, 80,000 operations at
// 100k), which grows with them in each direction. Queries are drawn in
// the box, so that each meets the same density whatever the size. At 1M
// the box holds 12 times the operations in 12 times the area: what a
// check costs when the airspace, not the crowd, grows.
//
//	go test ./geo -run '^$' -bench 'IndexConflictsArea' -benchtime 50000x
func BenchmarkIndexConflictsArea(b *testing.B) {
	m := MinimaOf(deconflict.DefaultSettings())
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("ops=%d", n), func(b *testing.B) {
			bi := buildAreaIndex(n)
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			times := make([]time.Duration, 0, b.N)
			cpu := make([]time.Duration, 0, b.N)
			hits := 0
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				t0, c0 := time.Now(), threadCPU()
				hits += len(bi.ix.Conflicts(bi.queries[i%len(bi.queries)], m, "delta"))
				cpu = append(cpu, threadCPU()-c0)
				times = append(times, time.Since(t0))
			}
			b.StopTimer()
			slices.Sort(times)
			slices.Sort(cpu)
			b.ReportMetric(float64(times[len(times)*99/100].Nanoseconds()), "p99-ns")
			b.ReportMetric(float64(times[len(times)/2].Nanoseconds()), "p50-ns")
			// The same, counting only the CPU the check took on its
			// thread: what the check costs, without the time other
			// processes of a shared machine held the core.
			b.ReportMetric(float64(cpu[len(cpu)*99/100].Nanoseconds()), "p99-cpu-ns")
			b.ReportMetric(float64(cpu[len(cpu)/2].Nanoseconds()), "p50-cpu-ns")
			b.ReportMetric(float64(hits)/float64(len(times)), "hits/op")
			b.ReportMetric(bi.buildS, "build-s")
		})
	}
}

var (
	areaMu      sync.Mutex
	areaIndexes = map[int]*benchIndex{}
)

// areaGlobal is the number of operations anywhere on the globe, whatever
// the size of the index.
const areaGlobal = 20_000

// buildAreaIndex builds (once per size) the index of n operations of
// BenchmarkIndexConflictsArea, with 10,000 queries.
func buildAreaIndex(n int) *benchIndex {
	areaMu.Lock()
	defer areaMu.Unlock()
	if bi, ok := areaIndexes[n]; ok {
		return bi
	}
	// The regional box: 8° by 14° at 100k, centred on (33°, 36°).
	grow := math.Sqrt(float64(n-areaGlobal) / (100_000 - areaGlobal))
	halfLat, halfLng := 4*grow, 7*grow
	r := rand.New(rand.NewPCG(uint64(n), 11))
	op := func(global float64) []Volume {
		var c vec
		if r.Float64() < global {
			c = fromDegrees(180*math.Asin(2*r.Float64()-1)/math.Pi, 360*r.Float64()-180)
		} else {
			c = fromDegrees(33+halfLat*(2*r.Float64()-1), 36+halfLng*(2*r.Float64()-1))
		}
		return benchOpAt(r, c)
	}
	t0 := time.Now()
	bi := &benchIndex{ix: NewIndex()}
	for i := range n {
		bi.ix.Insert(fmt.Sprintf("%08x-0000-4000-8000-000000000000", i), []string{"alpha", "bravo", "charlie"}[i%3], op(float64(areaGlobal)/float64(n)))
	}
	bi.buildS = time.Since(t0).Seconds()
	for range 10_000 {
		bi.queries = append(bi.queries, op(0))
	}
	areaIndexes[n] = bi
	return bi
}
