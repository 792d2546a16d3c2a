package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/deconflict/deconflict"
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

	if err := increment(ctx, db, 0, 0); err != nil {
		t.Fatal(err)
	}
	m2 := mark("a commit of the store")
	if m2 == m {
		t.Fatal("the mark did not move after a commit of the store itself")
	}

	other := MustOpen(t, path)
	if err := increment(ctx, other, 1, 0); err != nil {
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
	checkIncrements(t, db, 3)
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
// and the commit mark (one pread of the wal-index header).
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
