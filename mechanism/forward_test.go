package mechanism_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/sqlite"
	"github.com/google/uuid"
)

// toWriter is a Forwarder that hands declarations straight to another
// mechanism's Replicas().ApplyForwarded, as the channel between replicas would, and
// can be told to fail as the channel can: refuse before anything is
// applied, or lose the answer after the writer applied them.
type toWriter struct {
	writer *mechanism.Mechanism
	mu     sync.Mutex
	active bool
	fail   string // "": answer; "refuse": apply nothing; "lose": apply, then no answer
	handed int
}

func (f *toWriter) Active() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.active }

func (f *toWriter) Forward(ctx context.Context, ds []mechanism.Forwarded) ([]mechanism.ForwardedOutcome, error) {
	f.mu.Lock()
	fail := f.fail
	f.handed += len(ds)
	f.mu.Unlock()
	if fail == "refuse" {
		return nil, mechanism.ErrNotForwarded
	}
	outs := f.writer.Replicas().ApplyForwarded(ctx, ds)
	if fail == "lose" {
		return nil, errors.New("connection reset by peer")
	}
	return outs, nil
}

// twoReplicas returns two mechanisms on one SQLite store, the second
// handing its declarations to the first through the returned forwarder.
func twoReplicas(t *testing.T) (writer, other *mechanism.Mechanism, f *toWriter, clk *clock) {
	t.Helper()
	ctx := context.Background()
	path := t.TempDir() + "/d.db"
	clk = &clock{now: time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)}
	open := func() *mechanism.Mechanism {
		st, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		m := mechanism.New(st, mechanism.Options{Now: clk.Now})
		if err := m.Load(ctx); err != nil {
			t.Fatal(err)
		}
		return m
	}
	writer = open()
	for _, p := range []string{"alpha", "bravo"} {
		if _, err := writer.Access().AddParty(ctx, p, ""); err != nil {
			t.Fatal(err)
		}
	}
	other = open()
	f = &toWriter{writer: writer, active: true}
	other.Replicas().SetForwarder(f)
	return writer, other, f, clk
}

// TestForwardedDeclarationsAreExact declares conflicting operations at
// once on a replica that hands them to the writer and on the writer: each
// is answered with the conflicts it has, all are written by the writer,
// and none by the replica that handed them over.
func TestForwardedDeclarationsAreExact(t *testing.T) {
	ctx := context.Background()
	writer, other, f, clk := twoReplicas(t)
	alpha, bravo := dc.Actor{Party: "alpha", Role: dc.RoleOperator}, dc.Actor{Party: "bravo", Role: dc.RoleOperator}
	start := clk.Now().Add(2 * time.Hour)
	const n = 20
	var wg sync.WaitGroup
	results := make([]*mechanism.Result, 2*n)
	errs := make([]error, 2*n)
	for i := range 2 * n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, a := writer, alpha
			if i%2 == 1 {
				m, a = other, bravo
			}
			// All in one spot: every alpha operation conflicts with
			// every bravo one.
			results[i], errs[i] = m.Declare(ctx, a, uuid.NewString(), circleDecl(33, 35, start, start.Add(time.Hour)), nil)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("declaration %d: %v", i, err)
		}
		if !results[i].Created {
			t.Errorf("declaration %d: not created", i)
		}
	}
	if f.handed != n {
		t.Errorf("%d declarations handed to the writer, want %d", f.handed, n)
	}
	if got := other.Health().Stats().Batches.Load(); got != 0 {
		t.Errorf("the replica that hands its declarations over ran %d batches of its own, want 0", got)
	}
	// Each pair conflicts once; each answer shows the conflicts with
	// the operations of the other party declared before it.
	open := 0
	for _, r := range results {
		open += len(r.Conflicts)
	}
	cs, _, err := writer.Conflicts(ctx, dc.Actor{Role: dc.RoleAdmin}, dc.ConflictFilter{Statuses: []dc.ConflictStatus{dc.ConflictOpen}, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != n*n || open != n*n {
		t.Errorf("%d open conflicts stored, %d shown to declarers; want %d of each", len(cs), open, n*n)
	}
}

// TestForwardRefusedWritesHere: when the writer takes none of them, the
// replica writes its declarations itself, once.
func TestForwardRefusedWritesHere(t *testing.T) {
	ctx := context.Background()
	writer, other, f, clk := twoReplicas(t)
	f.fail = "refuse"
	bravo := dc.Actor{Party: "bravo", Role: dc.RoleOperator}
	start := clk.Now().Add(2 * time.Hour)
	id := uuid.NewString()
	res, err := other.Declare(ctx, bravo, id, circleDecl(33, 35, start, start.Add(time.Hour)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Created || res.Operation.Version != 1 {
		t.Errorf("created %v, version %d; want a new operation at version 1", res.Created, res.Operation.Version)
	}
	if f.handed != 1 || writer.Health().Stats().ForwardedIn.Load() != 0 || other.Health().Stats().Batches.Load() == 0 {
		t.Errorf("handed %d, the writer applied %d, the replica ran %d batches; want 1, 0 and some",
			f.handed, writer.Health().Stats().ForwardedIn.Load(), other.Health().Stats().Batches.Load())
	}
	if got := declaredEvents(t, writer, id); got != 1 {
		t.Errorf("%d operation.declared events for %s, want 1", got, id)
	}
}

// TestForwardAnswerLost: the writer applied a declaration but its answer
// was lost. The caller is told to try again (unavailable), the replica
// does not write it a second time, and the retry finds it written once.
func TestForwardAnswerLost(t *testing.T) {
	ctx := context.Background()
	writer, other, f, clk := twoReplicas(t)
	f.fail = "lose"
	bravo := dc.Actor{Party: "bravo", Role: dc.RoleOperator}
	start := clk.Now().Add(2 * time.Hour)
	id := uuid.NewString()
	d := circleDecl(33, 35, start, start.Add(time.Hour))
	_, err := other.Declare(ctx, bravo, id, d, nil)
	if dc.ErrorCode(err) != dc.EUnavailable {
		t.Fatalf("a declaration whose answer was lost answered %v, want unavailable", err)
	}
	if got := other.Health().Stats().Batches.Load(); got != 0 {
		t.Errorf("the replica ran %d batches of its own after a lost answer, want 0: it must not write it again", got)
	}
	f.mu.Lock()
	f.fail = ""
	f.mu.Unlock()
	res, err := other.Declare(ctx, bravo, id, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Created || res.Operation.Version != 1 {
		t.Errorf("the retry: created %v, version %d; want the operation as written once, at version 1", res.Created, res.Operation.Version)
	}
	if got := declaredEvents(t, writer, id); got != 1 {
		t.Errorf("%d operation.declared events for %s, want 1", got, id)
	}
}

// declaredEvents counts the operation.declared events of operation id.
func declaredEvents(t *testing.T, m *mechanism.Mechanism, id string) int {
	t.Helper()
	evs, err := m.Events(context.Background(), dc.Actor{Role: dc.RoleAdmin}, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Type == "operation.declared" && e.Subject.ID == id {
			n++
		}
	}
	return n
}
