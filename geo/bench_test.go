package geo

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/deconflict/deconflict"
)

// The benchmark airspace: four in five operations over the eastern
// Mediterranean and the Levant, the rest anywhere; footprints 1 to 100 km
// across (log-uniform), half circles and half polygons of 4 to 16
// vertices (one in fifty of 50 to 200); altitude bands between the
// surface and 12 km; windows of 5 minutes to 6 hours starting within a
// week; one to three volumes an operation, flown one after another.

var benchStart = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)

func benchOp(r *rand.Rand) []Volume {
	var c vec
	if r.IntN(5) > 0 {
		c = fromDegrees(29+8*r.Float64(), 29+14*r.Float64())
	} else {
		c = fromDegrees(180*math.Asin(2*r.Float64()-1)/math.Pi, 360*r.Float64()-180)
	}
	return benchOpAt(r, c)
}

// benchOpAt returns the volumes of a benchmark operation whose first
// volume is centred at c.
func benchOpAt(r *rand.Rand, c vec) []Volume {
	start := benchStart.Add(time.Duration(r.Int64N(int64(7 * 24 * time.Hour))))
	n := 1
	if k := r.IntN(10); k >= 9 {
		n = 3
	} else if k >= 7 {
		n = 2
	}
	var vs []Volume
	for range n {
		size := math.Exp(math.Log(1000) + r.Float64()*math.Log(100))
		var s shape
		switch {
		case r.IntN(2) == 0:
			s = randShape(r, size, 0)
		case r.IntN(25) == 0:
			s = starShape(r, size, 50+r.IntN(150), 0.5)
		default:
			s = starShape(r, size, 4+r.IntN(13), 0.25)
		}
		var f *Footprint
		if s.circle {
			lat, lng := toDegrees(c)
			f = newCircle(lat, lng, s.radiusM, true)
		} else {
			p, err := newPolygon(s.vertices(c), true)
			if err != nil {
				panic(err)
			}
			f = p
		}
		d := time.Duration(math.Exp(math.Log(float64(5*time.Minute)) + r.Float64()*math.Log(72)))
		lower := 12000 * r.Float64()
		vs = append(vs, Volume{Footprint: f, LowerM: lower, UpperM: lower + 150 + 2000*r.Float64(), Start: start, End: start.Add(d)})
		start = start.Add(d)
		c = offset(c, 2*math.Pi*r.Float64(), size/EarthRadiusM)
	}
	return vs
}

type benchIndex struct {
	ix      *Index
	heapMB  float64
	buildS  float64
	queries [][]Volume
}

var (
	benchMu      sync.Mutex
	benchIndexes = map[int]*benchIndex{}
)

// buildBenchIndex builds (once per size) an index of n operations of
// three parties, and reports the heap it takes.
func buildBenchIndex(n int) *benchIndex {
	benchMu.Lock()
	defer benchMu.Unlock()
	if bi, ok := benchIndexes[n]; ok {
		return bi
	}
	r := rand.New(rand.NewPCG(uint64(n), 7))
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	t0 := time.Now()
	bi := &benchIndex{ix: NewIndex()}
	for i := range n {
		bi.ix.Insert(fmt.Sprintf("%08x-0000-4000-8000-000000000000", i), []string{"alpha", "bravo", "charlie"}[i%3], benchOp(r))
	}
	bi.buildS = time.Since(t0).Seconds()
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	bi.heapMB = float64(after.HeapAlloc-before.HeapAlloc) / (1 << 20)
	for range 1000 {
		bi.queries = append(bi.queries, benchOp(r))
	}
	benchIndexes[n] = bi
	return bi
}

func BenchmarkIndexConflicts(b *testing.B) {
	m := MinimaOf(deconflict.DefaultSettings())
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("ops=%d", n), func(b *testing.B) {
			bi := buildBenchIndex(n)
			times := make([]time.Duration, 0, b.N)
			hits := 0
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				t0 := time.Now()
				hits += len(bi.ix.Conflicts(bi.queries[i%len(bi.queries)], m, "delta"))
				times = append(times, time.Since(t0))
			}
			b.StopTimer()
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)*99/100].Nanoseconds()), "p99-ns")
			b.ReportMetric(float64(times[len(times)/2].Nanoseconds()), "p50-ns")
			b.ReportMetric(float64(hits)/float64(len(times)), "hits/op")
			b.ReportMetric(bi.heapMB, "heap-MB")
			b.ReportMetric(bi.heapMB*(1<<20)/float64(n), "heap-B/entry")
			b.ReportMetric(bi.buildS, "build-s")
		})
	}
}

func BenchmarkCompareOperations(b *testing.B) {
	m := MinimaOf(deconflict.DefaultSettings())
	r := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct {
		name string
		n    int
	}{{"polygons-8", 8}, {"polygons-1000", 1000}, {"polygons-10000", 10000}} {
		b.Run(c.name, func(b *testing.B) {
			at := benchStart
			op := func(lat, lng float64) []Volume {
				f, err := newPolygon(starShape(r, 20_000, c.n, 0.9).vertices(fromDegrees(lat, lng)), true)
				if err != nil {
					b.Fatal(err)
				}
				return []Volume{{Footprint: f, LowerM: 0, UpperM: 1000, Start: at, End: at.Add(time.Hour)}}
			}
			a, near := op(33.5, 36.3), op(33.5, 36.6) // about 8 km apart
			b.ResetTimer()
			for b.Loop() {
				CompareOperations(a, near, m)
			}
		})
	}
}

func BenchmarkParseVolumes(b *testing.B) {
	for _, n := range []int{8, 10_000} {
		b.Run(fmt.Sprintf("vertices=%d", n), func(b *testing.B) {
			v := validVolumes()[:1]
			v[0].Volume.OutlinePolygon = regular(33.5, 36.3, 0.2, n)
			data, err := json.Marshal(v)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				var ws []deconflict.Volume4D
				if err := json.Unmarshal(data, &ws); err != nil {
					b.Fatal(err)
				}
				if _, err := ParseVolumes(ws, "volumes"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSnapshotWrite compares what a snapshot save makes changes wait
// for: writing the index out under its lock (WriteSnapshot) against
// copying it (Freeze), after which the copy is written with no lock.
func BenchmarkSnapshotWrite(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		bi := buildBenchIndex(n)
		b.Run(fmt.Sprintf("ops=%d/write", n), func(b *testing.B) {
			for b.Loop() {
				if err := bi.ix.WriteSnapshot(io.Discard); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "held-ms")
		})
		b.Run(fmt.Sprintf("ops=%d/freeze", n), func(b *testing.B) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for b.Loop() {
				bi.ix.Freeze()
			}
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "held-ms")
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/float64(n), "copy-B/entry")
		})
	}
}
