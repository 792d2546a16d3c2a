package mechanism_test

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/sqlite"
	"github.com/google/uuid"
)

// snapshotWorld is a store on disk that a test opens, closes and reopens
// like a server restarting, with or without an index snapshot.
type snapshotWorld struct {
	t    *testing.T
	path string
	clk  *clock
	st   *sqlite.DB
	m    *mechanism.Mechanism
	logs strings.Builder
}

func (w *snapshotWorld) open(snapshot string) {
	w.t.Helper()
	st, err := sqlite.Open(context.Background(), w.path)
	if err != nil {
		w.t.Fatal(err)
	}
	w.logs.Reset()
	w.st = st
	w.m = mechanism.New(st, mechanism.Options{Now: w.clk.Now, IndexSnapshot: snapshot, Logger: slog.New(slog.NewTextHandler(&w.logs, nil))})
	if err := w.m.Load(context.Background()); err != nil {
		w.t.Fatal(err)
	}
}

func (w *snapshotWorld) close() {
	w.t.Helper()
	if err := w.st.Close(); err != nil {
		w.t.Fatal(err)
	}
}

// usedSnapshot reports whether the last open loaded the index from the
// snapshot.
func (w *snapshotWorld) usedSnapshot() bool {
	return strings.Contains(w.logs.String(), "from=snapshot")
}

// declare declares n random operations of random parties near one spot,
// so that many conflict, and changes (cancels) some of those declared.
func (w *snapshotWorld) churn(r *rand.Rand, n int, ids *[]string) {
	w.t.Helper()
	ctx := context.Background()
	start := w.clk.Now().Add(2 * time.Hour)
	for range n {
		a := dc.Actor{Party: []string{"alpha", "bravo", "charlie"}[r.IntN(3)], Role: dc.RoleOperator}
		if len(*ids) > 0 && r.IntN(5) == 0 {
			id := (*ids)[r.IntN(len(*ids))]
			res, err := w.m.Operation(ctx, dc.Actor{Role: dc.RoleAdmin}, id)
			if err != nil {
				w.t.Fatal(err)
			}
			if op := res.Operation; op.State.Live() {
				if _, err := w.m.Cancel(ctx, dc.Actor{Party: op.Party, Role: dc.RoleOperator}, id, nil); err != nil {
					w.t.Fatal(err)
				}
			}
			continue
		}
		t0 := start.Add(time.Duration(r.IntN(600)) * time.Minute)
		d := circleDecl(33+r.Float64(), 35+r.Float64(), t0, t0.Add(time.Duration(10+r.IntN(120))*time.Minute))
		id := uuid.NewString()
		if _, err := w.m.Declare(ctx, a, id, d, nil); err != nil {
			w.t.Fatal(err)
		}
		*ids = append(*ids, id)
	}
}

// answers returns what-if answers of the mechanism for fixed queries: the
// IDs each conflicts with.
func answers(t *testing.T, m *mechanism.Mechanism, seed uint64) []string {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	var out []string
	for range 40 {
		t0 := start.Add(time.Duration(r.IntN(600)) * time.Minute)
		d := circleDecl(33+r.Float64(), 35+r.Float64(), t0, t0.Add(time.Hour))
		hits, err := m.Check(context.Background(), dc.Actor{Party: "delta", Role: dc.RoleOperator}, d.Volumes)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, h := range hits {
			ids = append(ids, h.Operation.ID)
		}
		slices.Sort(ids)
		out = append(out, strings.Join(ids, ","))
	}
	return out
}

// TestIndexSnapshot: a restart that reads the index snapshot, and applies
// what changed after it was saved, answers exactly as one that loads
// everything from the store; a snapshot that does not belong to the store
// (another store, a store restored from an older copy, a damaged file)
// is left aside and the index is still exact.
func TestIndexSnapshot(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	snap := dir + "/d.db.index"
	w := &snapshotWorld{t: t, path: dir + "/d.db", clk: &clock{now: time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)}}
	r := rand.New(rand.NewPCG(7, 7))
	w.open(snap)
	if w.usedSnapshot() {
		t.Fatal("a new store loaded from a snapshot")
	}
	for _, p := range []string{"alpha", "bravo", "charlie", "delta"} {
		if _, err := w.m.Access().AddParty(ctx, p, ""); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	w.churn(r, 150, &ids)
	if err := w.m.Index().SaveIndex(ctx); err != nil {
		t.Fatal(err)
	}
	w.close()
	older := copyStore(t, w.path, dir+"/older.db")

	// Changes after the snapshot: the restart must apply them.
	w.open("")
	w.churn(r, 60, &ids)
	want := answers(t, w.m, 1)
	live := w.m.Index().LiveOperations()
	w.close()
	if hits := strings.Count(strings.Join(want, ","), "-"); hits < 20 {
		t.Fatalf("the queries hit only %d operations: the test would prove little", hits/4)
	}

	w.open(snap)
	if !w.usedSnapshot() || !strings.Contains(w.logs.String(), "changed_since=") || strings.Contains(w.logs.String(), "changed_since=0 ") {
		t.Fatalf("the restart did not start from the snapshot and the changes since:\n%s", w.logs.String())
	}
	if got := answers(t, w.m, 1); !slices.Equal(got, want) || w.m.Index().LiveOperations() != live {
		t.Fatalf("from the snapshot: %d live, answers\n%v\nwant %d live,\n%v", w.m.Index().LiveOperations(), got, live, want)
	}
	// Writes after a snapshot load find conflicts with what it held.
	res, err := w.m.Declare(ctx, dc.Actor{Party: "delta", Role: dc.RoleOperator}, uuid.NewString(),
		circleDecl(33.5, 35.5, time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC), time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Conflicts) == 0 {
		t.Fatal("a declaration over the busy area found no conflict after a snapshot load")
	}
	if err := w.m.Index().SaveIndex(ctx); err != nil {
		t.Fatal(err)
	}
	want = answers(t, w.m, 2)
	w.close()

	for _, c := range []struct {
		name   string
		before func()
		reason string
	}{
		{"another store's snapshot", func() {
			o := &snapshotWorld{t: t, path: dir + "/other.db", clk: w.clk}
			o.open(dir + "/other.index")
			for _, p := range []string{"alpha", "bravo", "charlie"} {
				if _, err := o.m.Access().AddParty(ctx, p, ""); err != nil {
					t.Fatal(err)
				}
			}
			var other []string
			o.churn(rand.New(rand.NewPCG(8, 8)), 40, &other) // a shorter log than ours: only its hash tells
			if err := o.m.Index().SaveIndex(ctx); err != nil {
				t.Fatal(err)
			}
			o.close()
			mustRename(t, dir+"/other.index", snap)
		}, "from another store"},
		{"a damaged snapshot", func() {
			data, err := os.ReadFile(snap)
			if err != nil {
				t.Fatal(err)
			}
			data[len(data)/2] ^= 0x40
			if err := os.WriteFile(snap, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}, "damaged"},
		{"no snapshot", func() { os.Remove(snap) }, "none yet"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w.open(snap)
			if err := w.m.Index().SaveIndex(ctx); err != nil { // a good one, then spoil it
				t.Fatal(err)
			}
			w.close()
			c.before()
			w.open(snap)
			defer w.close()
			if w.usedSnapshot() || !strings.Contains(w.logs.String(), c.reason) {
				t.Fatalf("want the snapshot left aside (%s):\n%s", c.reason, w.logs.String())
			}
			if got := answers(t, w.m, 2); !slices.Equal(got, want) {
				t.Fatalf("answers\n%v\nwant\n%v", got, want)
			}
		})
	}

	// The store restored from a copy older than the snapshot: the
	// snapshot holds operations the store no longer has.
	w.open(snap)
	if err := w.m.Index().SaveIndex(ctx); err != nil {
		t.Fatal(err)
	}
	w.close()
	copyStore(t, older, w.path)
	old := &snapshotWorld{t: t, path: older, clk: w.clk}
	old.open("")
	want = answers(t, old.m, 2)
	old.close()
	w.open(snap)
	defer w.close()
	if w.usedSnapshot() || !strings.Contains(w.logs.String(), "older backup") {
		t.Fatalf("a snapshot newer than the store was used:\n%s", w.logs.String())
	}
	if got := answers(t, w.m, 2); !slices.Equal(got, want) {
		t.Fatalf("answers\n%v\nwant\n%v", got, want)
	}
}

// copyStore copies a closed SQLite store (its file; the WAL was
// checkpointed at close) and returns dst.
func copyStore(t *testing.T, src, dst string) string {
	t.Helper()
	for _, suffix := range []string{"-wal", "-shm"} {
		os.Remove(dst + suffix)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(src + "-wal"); err == nil {
		if fi, _ := os.Stat(src + "-wal"); fi.Size() > 0 {
			t.Fatalf("%s has a WAL after close: the copy would miss it", src)
		}
	}
	return dst
}

func mustRename(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

// lockedBuffer is a log that a test reads while a goroutine writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

// Under a load of declarations the snapshot is refreshed after a number
// of events, not only when its interval is up, so a crash leaves at most
// that many to catch up.
func TestIndexSnapshotAfterEvents(t *testing.T) {
	ctx := context.Background()
	path := t.TempDir() + "/d.db"
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	clk := &clock{now: time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)}
	logs := &lockedBuffer{}
	m := mechanism.New(st, mechanism.Options{Now: clk.Now, IndexSnapshot: path + ".index", Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err := m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"alpha", "bravo"} {
		if _, err := m.Access().AddParty(ctx, p, ""); err != nil {
			t.Fatal(err)
		}
	}
	defer mechanism.SetSnapshotGap(100 * time.Millisecond)()
	run, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { m.Index().RunIndexSnapshots(run, time.Hour, 20); close(done) }()
	saves := func(want int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); logs.count("index saved") < want; {
			if time.Now().After(deadline) {
				t.Fatalf("%d snapshots saved, want %d", logs.count("index saved"), want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	saves(1) // at start
	start := clk.Now().Add(2 * time.Hour)
	for i := range 10 {
		if _, err := m.Declare(ctx, dc.Actor{Party: "alpha", Role: dc.RoleOperator}, uuid.NewString(), circleDecl(10, float64(i), start, start.Add(time.Hour)), nil); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(1500 * time.Millisecond) // 10 events: not yet
	if n := logs.count("index saved"); n != 1 {
		t.Fatalf("saved %d times after 10 events, want once", n)
	}
	for i := range 15 {
		if _, err := m.Declare(ctx, dc.Actor{Party: "bravo", Role: dc.RoleOperator}, uuid.NewString(), circleDecl(20, float64(i), start, start.Add(time.Hour)), nil); err != nil {
			t.Fatal(err)
		}
	}
	saves(2) // 25 events since: over 20, long before the hour
	stop()
	<-done

	// But not more often than the gap between such saves allows. The
	// save by events may have come before the last of the 25 events (it
	// is looked for once a second); the file is brought up to date first,
	// so that the next run has nothing to save at its start.
	if err := m.Index().SaveIndex(ctx); err != nil {
		t.Fatal(err)
	}
	saved := logs.count("index saved")
	mechanism.SetSnapshotGap(time.Hour)
	run, stop = context.WithCancel(ctx)
	done = make(chan struct{})
	go func() { m.Index().RunIndexSnapshots(run, time.Hour, 20); close(done) }()
	defer func() { stop(); <-done }()
	time.Sleep(100 * time.Millisecond) // its start: nothing changed, nothing saved
	for i := range 25 {
		if _, err := m.Declare(ctx, dc.Actor{Party: "alpha", Role: dc.RoleOperator}, uuid.NewString(), circleDecl(30, float64(i), start, start.Add(time.Hour)), nil); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(1500 * time.Millisecond)
	if n := logs.count("index saved"); n != saved {
		t.Fatalf("saved %d times, want %d: a save by events came within the gap", n, saved)
	}
}
