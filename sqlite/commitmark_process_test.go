package sqlite

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// TestCommitMarkAfterEachCommitOfAnotherProcess checks, commit by commit,
// the promise a token cache relies on: once another process's commit has
// returned, the mark differs from the one taken before it (if it is
// given at all). The other process commits, empties the WAL so that the
// next commit starts it over, and closes and reopens its store, in a
// seeded random order; alone, beside a third process committing as fast
// as it can (so that headers are being written while the mark reads
// them), after this process reopened its own store (the -shm file held
// and mapped already), and after every store closed (SQLite deletes the
// -shm file and a new one is made).
func TestCommitMarkAfterEachCommitOfAnotherProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "steps.db")
	r := rand.New(rand.NewPCG(5, 6))
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { db.Close() }()

	type stepper struct {
		cmd   *exec.Cmd
		in    io.WriteCloser
		out   *bufio.Reader
		steps int
	}
	start := func(worker int) *stepper {
		t.Helper()
		cmd, in, out := helper(t, "step", path, worker, 0)
		if line, err := out.ReadString('\n'); line != "ready\n" {
			t.Fatalf("other process: %q, %v; want ready", line, err)
		}
		return &stepper{cmd: cmd, in: in, out: out}
	}
	stop := func(s *stepper) {
		t.Helper()
		s.in.Close()
		if err := s.cmd.Wait(); err != nil {
			t.Fatalf("other process: %v", err)
		}
	}
	commits := 0
	// run has s take n steps, and checks the mark around each commit.
	// alone tells that no other process writes: every mark is given.
	run := func(phase string, s *stepper, n int, alone bool) {
		t.Helper()
		if _, ok := db.CommitMark(); !ok {
			t.Fatalf("%s: no mark", phase)
		}
		if runtime.GOOS == "linux" && db.watch.shm.mem == nil {
			t.Fatalf("%s: the wal-index is not mapped", phase)
		}
		unmarked := 0
		for range n {
			what := "commit"
			switch k := r.IntN(10); {
			case k == 0:
				what = "checkpoint"
			case k == 1:
				what = "reopen"
			}
			before, okBefore := db.CommitMark()
			fmt.Fprintln(s.in, what)
			if line, err := s.out.ReadString('\n'); line != "done\n" {
				t.Fatalf("%s: other process, %s: %q, %v; want done", phase, what, line, err)
			}
			s.steps++
			after, okAfter := db.CommitMark()
			if !okBefore || !okAfter {
				unmarked++
				if alone {
					t.Fatalf("%s: no mark (before %v, after %v) with no write under way", phase, okBefore, okAfter)
				}
			}
			if what != "commit" {
				continue
			}
			commits++
			if okBefore && okAfter && before == after {
				t.Fatalf("%s, step %d: the mark is the same after a commit of another process returned", phase, s.steps)
			}
		}
		if unmarked > n/2 {
			t.Fatalf("%s: no mark around %d of %d steps", phase, unmarked, n)
		}
		if runtime.GOOS == "linux" && db.watch.shm.faulted.Load() {
			t.Fatalf("%s: reading the mapped wal-index faulted", phase)
		}
		t.Logf("%s: %d steps, %d without a mark", phase, n, unmarked)
	}

	const n = 150
	s := start(1)
	run("alone", s, n, true)

	appender, _, appended := helper(t, "append", path, 0, 0)
	if _, err := appended.ReadString('\n'); err != nil {
		t.Fatalf("appending process: %v", err)
	}
	go io.Copy(io.Discard, appended)
	run("beside a process committing", s, n, false)
	appender.Process.Kill()
	appender.Wait()

	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if db, err = Open(ctx, path); err != nil {
		t.Fatal(err)
	}
	run("after this store reopened", s, n, true)

	stop(s)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if db, err = Open(ctx, path); err != nil {
		t.Fatal(err)
	}
	s = start(2)
	run("after every store closed", s, n, true)
	stop(s)
	if commits < n {
		t.Fatalf("only %d commits", commits)
	}
}
