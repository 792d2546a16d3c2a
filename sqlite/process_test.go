package sqlite

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/storetest"
)

// The tests here run copies of the test binary as other processes on the
// same file. helperEnv tells a copy what to do: "MODE PATH WORKER N".
const helperEnv = "DECONFLICT_SQLITE_HELPER"

// TestHelperProcess is what the copies run; it does nothing in a normal
// test run.
//
// Modes:
//   - increment: open PATH, print "ready", wait for a line on stdin, run
//     storetest.Increment N times as WORKER, print "done".
//   - append: open PATH and, from N on, store operation i and an event
//     {"i": i} in one Update, and print "i seq" once Update returned,
//     until killed.
//   - step: open PATH, print "ready", then for each line on stdin do what
//     it says and print "done" once it is done: "commit" (storetest.Increment as
//     WORKER), "checkpoint" (a checkpoint that empties the WAL, so that
//     the next commit starts it over) or "reopen" (close the store and
//     open it again); exit at the end of stdin.
func TestHelperProcess(t *testing.T) {
	spec := os.Getenv(helperEnv)
	if spec == "" {
		t.Skip("run by the multi-process tests only")
	}
	f := strings.Fields(spec)
	worker, _ := strconv.Atoi(f[2])
	n, _ := strconv.Atoi(f[3])
	ctx := context.Background()
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	db, err := Open(ctx, f[1])
	if err != nil {
		fail(err)
	}
	switch f[0] {
	case "increment":
		fmt.Println("ready")
		if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
			fail(err)
		}
		for i := range n {
			if err := storetest.Increment(ctx, db, worker, i); err != nil {
				fail(err)
			}
		}
		if err := db.Close(); err != nil {
			fail(err)
		}
		fmt.Println("done")
	case "step":
		fmt.Println("ready")
		in := bufio.NewScanner(os.Stdin)
		for i := 0; in.Scan(); i++ {
			switch in.Text() {
			case "commit":
				err = storetest.Increment(ctx, db, worker, i)
			case "checkpoint":
				_, err = db.write.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
			case "reopen":
				if err = db.Close(); err == nil {
					db, err = Open(ctx, f[1])
				}
			default:
				err = fmt.Errorf("unknown step %q", in.Text())
			}
			if err != nil {
				fail(err)
			}
			fmt.Println("done")
		}
		if err := db.Close(); err != nil {
			fail(err)
		}
	case "append":
		for i := n; ; i++ {
			e, err := storetest.AppendOne(ctx, db, i)
			if err != nil {
				fail(err)
			}
			fmt.Printf("%d %d\n", i, e.Seq)
		}
	}
	os.Exit(0)
}

// helper starts a copy of the test binary in a mode, with pipes to its
// stdin and stdout.
func helper(t *testing.T, mode, path string, worker, n int) (*exec.Cmd, io.WriteCloser, *bufio.Reader) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %s %d %d", helperEnv, mode, path, worker, n))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, stdin, bufio.NewReader(stdout)
}

// TestProcesses has three other processes and this one write to one file
// at once: no "database is locked" within the busy timeout, no lost
// update.
func TestProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	path := filepath.Join(t.TempDir(), "procs.db")
	db := MustOpen(t, path)
	const procs, each = 3, 40
	var cmds []*exec.Cmd
	var stdins []io.WriteCloser
	var stdouts []*bufio.Reader
	for w := range procs {
		cmd, stdin, stdout := helper(t, "increment", path, w+1, each)
		if line, err := stdout.ReadString('\n'); line != "ready\n" {
			t.Fatalf("process %d: %q, %v; want ready", w+1, line, err)
		}
		cmds, stdins, stdouts = append(cmds, cmd), append(stdins, stdin), append(stdouts, stdout)
	}
	for _, stdin := range stdins {
		fmt.Fprintln(stdin, "go")
	}
	ctx := t.Context()
	for i := range each {
		if err := storetest.Increment(ctx, db, 0, i); err != nil {
			t.Error(err)
		}
	}
	for w, cmd := range cmds {
		line, _ := stdouts[w].ReadString('\n')
		if err := cmd.Wait(); err != nil || line != "done\n" {
			t.Errorf("process %d: %q, %v", w+1, line, err)
		}
	}
	storetest.CheckIncrements(t, db, (procs+1)*each)
}

// TestKill kills a writing process at random moments and checks that
// every Update it saw return nil is in the file.
func TestKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	path := filepath.Join(t.TempDir(), "kill.db")
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0))
	acked := map[int]int64{} // operation i → event seq
	next := 0
	for round := range 4 {
		cmd, _, stdout := helper(t, "append", path, 0, next)
		// Kill after a random number of acknowledged Updates, or
		// a random time, whichever comes first.
		stop := 1 + r.IntN(150)
		killed := time.AfterFunc(time.Duration(50+r.IntN(500))*time.Millisecond, func() { cmd.Process.Kill() })
		n := 0
		for {
			line, err := stdout.ReadString('\n')
			if err != nil {
				break
			}
			var i int
			var seq int64
			if _, err := fmt.Sscanf(line, "%d %d", &i, &seq); err != nil {
				t.Fatalf("round %d: %q: %v", round, line, err)
			}
			acked[i] = seq
			next = i + 1
			if n++; n == stop {
				cmd.Process.Kill()
			}
		}
		killed.Stop()
		cmd.Wait()
		t.Logf("round %d: killed after %d acknowledged Updates", round, n)

		db, err := Open(t.Context(), path)
		if err != nil {
			t.Fatalf("round %d: reopen after kill: %v", round, err)
		}
		checkAcked(t, db, acked)
		// The next writer skips the operation that was in flight, which
		// may or may not be stored.
		next++
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// checkAcked checks the file's integrity, that events run 1, 2, 3… and
// that every acknowledged Update is there.
func checkAcked(t *testing.T, db *DB, acked map[int]int64) {
	t.Helper()
	ctx := t.Context()
	var check string
	if err := db.read.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check: %q, %v", check, err)
	}
	err := db.View(ctx, func(tx deconflict.Tx) error {
		es, err := tx.Events(ctx, 0, 1_000_000)
		if err != nil {
			return err
		}
		bySeq := map[int64]int{}
		for k, e := range es {
			if e.Seq != int64(k+1) {
				t.Fatalf("event %d has seq %d", k+1, e.Seq)
			}
			var d struct{ I int }
			if err := json.Unmarshal(e.Data, &d); err != nil {
				return err
			}
			bySeq[e.Seq] = d.I
		}
		for i, seq := range acked {
			if got, ok := bySeq[seq]; !ok || got != i {
				t.Errorf("acknowledged event %d (operation %d) lost: found %d, %v", seq, i, got, ok)
			}
			op, err := tx.Operation(ctx, storetest.OperationID(i))
			if err != nil {
				t.Errorf("acknowledged operation %d lost: %v", i, err)
			} else if op.Rev != seq {
				t.Errorf("operation %d has rev %d, want %d", i, op.Rev, seq)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
