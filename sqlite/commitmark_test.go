package sqlite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/storetest"
)

// TestCommitMark checks that the commit mark stays the same while only
// reads happen, and moves with every commit: through the store itself,
// through another handle on the file, and by another process.
func TestCommitMark(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "mark.db")
	db := MustOpen(t, path)
	mark := func(after string) deconflict.CommitMark {
		t.Helper()
		m, ok := db.CommitMark()
		if !ok {
			t.Fatalf("no commit mark after %s", after)
		}
		return m
	}
	m := mark("opening")
	for i := range 3 {
		if err := db.View(ctx, func(tx deconflict.Tx) error {
			_, err := tx.Settings(ctx)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.RevokedTokens(ctx); err != nil {
			t.Fatal(err)
		}
		if got := mark(fmt.Sprintf("read %d", i)); got != m {
			t.Fatalf("the mark moved after a read, with nothing committed")
		}
	}

	if err := storetest.Increment(ctx, db, 0, 0); err != nil {
		t.Fatal(err)
	}
	m2 := mark("a commit of the store")
	if m2 == m {
		t.Fatal("the mark did not move after a commit of the store itself")
	}

	other := MustOpen(t, path)
	if err := storetest.Increment(ctx, other, 1, 0); err != nil {
		t.Fatal(err)
	}
	m3 := mark("a commit through another handle")
	if m3 == m2 {
		t.Fatal("the mark did not move after a commit through another handle")
	}

	if testing.Short() {
		return
	}
	cmd, stdin, stdout := helper(t, "increment", path, 2, 1)
	if line, err := stdout.ReadString('\n'); line != "ready\n" {
		t.Fatalf("other process: %q, %v; want ready", line, err)
	}
	if got := mark("another process opened the file"); got != m3 {
		t.Fatal("the mark moved when another process opened the file, with nothing committed")
	}
	fmt.Fprintln(stdin, "go")
	if line, _ := stdout.ReadString('\n'); line != "done\n" {
		t.Fatalf("other process: %q; want done", line)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if mark("a commit by another process") == m3 {
		t.Fatal("the mark did not move after a commit by another process")
	}
	storetest.CheckIncrements(t, db, 3)
}

// TestCommitMarkClosed checks that a closed store gives no mark: its
// file may have been replaced since.
func TestCommitMarkClosed(t *testing.T) {
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "closed.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := db.CommitMark(); !ok {
		t.Fatal("no commit mark from an open store")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := db.CommitMark(); ok {
		t.Fatal("a commit mark from a closed store")
	}
}

// BenchmarkFreshness times the ways a server can learn whether a token
// may have been revoked since it last looked: the revocation count read
// through database/sql, PRAGMA data_version on a connection of its own,
// and the commit mark (the wal-index header, read where SQLite maps it).
//
//	go test ./sqlite -run '^$' -bench Freshness
func BenchmarkFreshness(b *testing.B) {
	db := MustOpen(b, "")
	ctx := context.Background()
	b.Run("count", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.RevokedTokens(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("data_version", func(b *testing.B) {
		conn, err := db.read.Conn(ctx)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		stmt, err := conn.PrepareContext(ctx, "PRAGMA data_version")
		if err != nil {
			b.Fatal(err)
		}
		defer stmt.Close()
		for b.Loop() {
			var v int64
			if err := stmt.QueryRowContext(ctx).Scan(&v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("mark", func(b *testing.B) {
		for b.Loop() {
			if _, ok := db.CommitMark(); !ok {
				b.Fatal("no mark")
			}
		}
	})
}

// TestCommitMarkThroughSymlink checks that the mark of a store opened
// through a symbolic link moves with its commits. SQLite names the
// wal-index file after the file the link points to; a file named after
// the link (one left behind by a store that lived under that name before,
// say) is not the one SQLite writes, and a mark read from it would never
// move: a token revoked by another process would go on working.
func TestCommitMarkThroughSymlink(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dir, "data", "store.db")
	other := MustOpen(t, target)
	link := filepath.Join(dir, "store.db")
	if err := os.Symlink(filepath.Join("data", "store.db"), link); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
	left, err := os.ReadFile(target + "-shm")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(link+"-shm", left, 0o600); err != nil {
		t.Fatal(err)
	}

	db := MustOpen(t, link)
	m, ok := db.CommitMark()
	if !ok {
		t.Fatal("no commit mark for a store opened through a symbolic link")
	}
	if err := storetest.Increment(ctx, other, 0, 0); err != nil {
		t.Fatal(err)
	}
	if m2, ok := db.CommitMark(); !ok || m2 == m {
		t.Fatalf("the mark of a store opened through a symbolic link did not move after a commit (ok %v)", ok)
	}
}

// TestCommitMarkDescriptors checks that stores opened, asked for their
// mark and closed leave no descriptor open behind them: a process that
// opens many stores in turn (a tool, a test suite) would run out.
func TestCommitMarkDescriptors(t *testing.T) {
	open := func() int {
		t.Helper()
		fds, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skipf("cannot count open descriptors: %v", err)
		}
		return len(fds)
	}
	dir := t.TempDir()
	cycle := func(i int) {
		t.Helper()
		db, err := Open(t.Context(), filepath.Join(dir, fmt.Sprintf("store-%d.db", i)))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := db.CommitMark(); !ok {
			t.Fatalf("no commit mark from store %d", i)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	cycle(0) // whatever the process opens once, it has opened now
	before := open()
	const stores = 20
	for i := 1; i <= stores; i++ {
		cycle(i)
	}
	if after := open(); after >= before+stores/2 {
		t.Fatalf("%d stores opened and closed left %d descriptors open", stores, after-before)
	}
	// Nor a mapping of their files (the wal-index CommitMark maps).
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Skipf("cannot list the mappings: %v", err)
	}
	if n := strings.Count(string(maps), dir+string(filepath.Separator)); n > 0 {
		t.Fatalf("%d stores opened and closed left %d mappings of their files", stores+1, n)
	}
}

// TestCommitMarkMapped checks that on Linux the mark is read from the
// wal-index mapped into memory (no system call), and that a -shm file cut
// short behind SQLite's back, which makes reading the mapped page fault,
// gives no mark instead of crashing the process, and no mapped read after.
func TestCommitMarkMapped(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the wal-index is mapped on Linux only")
	}
	db := MustOpen(t, filepath.Join(t.TempDir(), "mapped.db"))
	if _, ok := db.CommitMark(); !ok {
		t.Fatal("no commit mark")
	}
	if db.watch.shm.mem == nil {
		t.Fatal("the wal-index header is not read from a mapping")
	}

	// A file of the registry's own, since SQLite would fault on it too.
	path := filepath.Join(t.TempDir(), "cut.db-shm")
	page := make([]byte, os.Getpagesize())
	page[0] = 1
	if err := os.WriteFile(path, page, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := shmFiles.open(path)
	if err != nil {
		t.Fatal(err)
	}
	var mark deconflict.CommitMark
	if !f.readMapped(&mark) || mark[0] != 1 {
		t.Fatalf("reading the mapped page: %v", mark[:4])
	}
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	if f.readMapped(&mark) {
		t.Fatal("a read of a page past the end of the file succeeded")
	}
	if !f.faulted.Load() || f.readMapped(&mark) {
		t.Fatal("the mapping is still read after it faulted")
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	shmFiles.release(f)
}
