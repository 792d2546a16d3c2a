package main

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// BenchmarkDSSWALPages counts the pages an OIR creation writes to the
// WAL, by B-tree, as BenchmarkWALPages does for declarations: 10,000 OIRs
// filed by 8 USSs as in BenchmarkDSSCreateOIR, then 2,000 more while a
// read transaction keeps the WAL from being copied or restarted. With
// cgo:
// go test -tags sqlite_dbstat ./cmd/deconflict -run '^$' -bench DSSWALPages -benchtime 1x
func BenchmarkDSSWALPages(b *testing.B) {
	const live, n = 10000, 2000
	store := testStore(b)
	path, ok := strings.CutPrefix(store, "sqlite:")
	if !ok {
		b.Skip("counts the pages of the embedded store")
	}
	s := startDSSOn(b, store, nil)
	cl := make([]*dssClient, 8)
	for i := range cl {
		cl[i] = &dssClient{s: s, token: s.tok(fmt.Sprintf("bench-uss-%d", i), scSCD), region: i, last: map[int]string{}, level: map[int]int{}}
	}
	file := func(each int) {
		var wg sync.WaitGroup
		for _, c := range cl {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range each {
					if _, err := c.create(); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
	file(live / len(cl))
	if b.Failed() {
		return
	}
	// Start from an empty WAL, then hold it.
	hold, pin := pinWAL(b, path, true)
	file(n / len(cl))
	frames, commits := walFramesByTree(b, path, hold, pin)
	total := 0
	for _, f := range frames {
		total += f.frames
	}
	fmt.Printf("%d OIRs, %d commits: %d frames, %.2f an OIR, %.1f a commit\n", n, commits, total, float64(total)/n, float64(total)/float64(max(commits, 1)))
	printTreeFrames(frames, n, "an OIR")
	b.ReportMetric(float64(total)/n, "frames/oir")
}
