package main

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/deconflict/deconflict/sqlite"
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
	ctx := context.Background()
	hold, err := sql.Open(sqlite.DriverName, "file:"+path)
	if err != nil {
		b.Fatal(err)
	}
	defer hold.Close()
	// Start from an empty WAL, then hold it.
	if _, err := hold.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		b.Fatal(err)
	}
	pin, err := hold.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	var parties int
	if err := pin.QueryRowContext(ctx, "SELECT count(*) FROM parties").Scan(&parties); err != nil {
		b.Fatal(err)
	}
	file(n / len(cl))
	frames, commits := walFramesByTree(b, path, hold, pin)
	total := 0
	for _, f := range frames {
		total += f.frames
	}
	fmt.Printf("%d OIRs, %d commits: %d frames, %.2f an OIR, %.1f a commit\n", n, commits, total, float64(total)/n, float64(total)/float64(max(commits, 1)))
	for _, f := range frames {
		fmt.Printf("  %-32s %6d frames  %.2f an OIR  %5d pages\n", f.tree, f.frames, float64(f.frames)/n, f.pages)
	}
	b.ReportMetric(float64(total)/n, "frames/oir")
}
