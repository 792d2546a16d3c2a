package main

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/sqlite"
)

// BenchmarkWALPages counts the pages a declaration writes to the WAL, by
// B-tree: 4,000 declarations by 32 writers (in process, no HTTP) on a
// copy of the 100k live template, while a read transaction holds the WAL
// so that no checkpoint copies or restarts it; then each frame's page
// number is looked up in dbstat. It prints the table and reports the
// frames per declaration. Pages are what every commit writes twice (WAL,
// then database file) and what its flush waits for. With cgo:
// go test -tags sqlite_dbstat ./cmd/deconflict -run '^$' -bench WALPages -benchtime 1x
func BenchmarkWALPages(b *testing.B) {
	const n = 4000
	src := liveTemplate(b, 100000)
	path := filepath.Join(b.TempDir(), "probe.db")
	if err := copyFile(path, src); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	m := mechanism.New(st, mechanism.Options{})
	if err := m.Load(ctx); err != nil {
		b.Fatal(err)
	}
	hold, pin := pinWAL(b, path, false)

	batches := m.Health().Stats().Batches.Load()
	declareSpread(b, m, n, 32, 7)
	batches = m.Health().Stats().Batches.Load() - batches

	frames, commits := walFramesByTree(b, path, hold, pin)
	total := 0
	for _, f := range frames {
		total += f.frames
	}
	fmt.Printf("%d declarations in %d batches, %d commits: %d frames, %.2f a declaration, %.1f a commit\n",
		n, batches, commits, total, float64(total)/n, float64(total)/float64(max(commits, 1)))
	printTreeFrames(frames, n, "a declaration")
	b.ReportMetric(float64(total)/n, "frames/decl")
	b.ReportMetric(float64(n)/float64(max(batches, 1)), "decl/batch")
}

// pinWAL opens the database at path once more and begins a read
// transaction there, pin, which keeps the WAL from being copied into the
// database or restarted until walFramesByTree ends it; with truncate, it
// first empties the WAL.
func pinWAL(b *testing.B, path string, truncate bool) (hold *sql.DB, pin *sql.Tx) {
	b.Helper()
	ctx := context.Background()
	hold, err := sql.Open(sqlite.DriverName, "file:"+path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { hold.Close() })
	if truncate {
		if _, err := hold.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			b.Fatal(err)
		}
	}
	if pin, err = hold.BeginTx(ctx, &sql.TxOptions{ReadOnly: true}); err != nil {
		b.Fatal(err)
	}
	var parties int
	if err := pin.QueryRowContext(ctx, "SELECT count(*) FROM parties").Scan(&parties); err != nil {
		b.Fatal(err)
	}
	return hold, pin
}

// printTreeFrames prints the frames of each B-tree, and their number for
// each of n items written (each, e.g., "a declaration").
func printTreeFrames(frames []treeFrames, n int, each string) {
	for _, f := range frames {
		fmt.Printf("  %-32s %6d frames  %.2f %s  %5d pages\n", f.tree, f.frames, float64(f.frames)/float64(n), each, f.pages)
	}
}

// treeFrames is what the WAL holds of one B-tree: its frames and the
// distinct pages they are of.
type treeFrames struct {
	tree          string
	frames, pages int
}

// walFramesByTree reads the WAL of the database at path, which the read
// transaction pin (on hold) kept from being copied or restarted, ends
// pin, and maps every frame to its B-tree with dbstat: the B-trees, most
// frames first, and the commits.
func walFramesByTree(b *testing.B, path string, hold *sql.DB, pin *sql.Tx) ([]treeFrames, int) {
	b.Helper()
	wal, err := os.ReadFile(path + "-wal")
	if err != nil || len(wal) < 32 {
		b.Fatalf("read the WAL: %d bytes, %v", len(wal), err)
	}
	pageSize := int(binary.BigEndian.Uint32(wal[8:12]))
	salt := string(wal[16:24])
	frames := map[uint32]int{}
	commits := 0
	for off := 32; off+24+pageSize <= len(wal); off += 24 + pageSize {
		h := wal[off : off+24]
		if string(h[8:16]) != salt {
			break
		}
		frames[binary.BigEndian.Uint32(h[0:4])]++
		if binary.BigEndian.Uint32(h[4:8]) != 0 {
			commits++
		}
	}
	if err := pin.Rollback(); err != nil {
		b.Fatal(err)
	}
	tree := map[uint32]string{}
	rows, err := hold.Query("SELECT name, pageno FROM dbstat")
	if err != nil {
		// The C library of a cgo build leaves dbstat out unless asked.
		b.Fatalf("%v (with cgo, run with -tags sqlite_dbstat)", err)
	}
	for rows.Next() {
		var name string
		var page uint32
		if err := rows.Scan(&name, &page); err != nil {
			b.Fatal(err)
		}
		tree[page] = name
	}
	rows.Close()
	by := map[string]*treeFrames{}
	for page, c := range frames {
		f := by[tree[page]]
		if f == nil {
			f = &treeFrames{tree: tree[page]}
			by[tree[page]] = f
		}
		f.frames += c
		f.pages++
	}
	out := make([]treeFrames, 0, len(by))
	for _, f := range by {
		out = append(out, *f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].frames > out[j].frames })
	return out, commits
}
