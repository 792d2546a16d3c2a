package mechanism_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/sqlite"
	"github.com/google/uuid"
)

// flakyStore fails the next write transactions after running them (as a
// commit lost with the database connection) and the next read
// transactions, as many of each as asked.
type flakyStore struct {
	dc.Store
	failUpdates, failViews atomic.Int32
}

func (f *flakyStore) Update(ctx context.Context, fn func(dc.Tx) error) error {
	if f.failUpdates.Add(-1) < 0 {
		f.failUpdates.Store(0)
		return f.Store.Update(ctx, fn)
	}
	_ = f.Store.Update(ctx, func(tx dc.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return errors.New("rolled back")
	})
	return errors.New("injected: the commit was lost with the connection")
}

func (f *flakyStore) View(ctx context.Context, fn func(dc.Tx) error) error {
	if f.failViews.Add(-1) < 0 {
		f.failViews.Store(0)
		return f.Store.View(ctx, fn)
	}
	return errors.New("injected: the database is unreachable")
}

// TestFailedWriteDoesNotHideOtherReplicas: a replica's write fails at
// commit and so does the reload after it. Its index and rev must not stay
// ahead of the store: another replica then commits an operation under the
// seqs the failed write would have had, and the first replica must still
// find the conflict with it.
func TestFailedWriteDoesNotHideOtherReplicas(t *testing.T) {
	ctx := context.Background()
	path := t.TempDir() + "/d.db"
	clk := &clock{now: time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)}
	open := func(st dc.Store) *mechanism.Mechanism {
		m := mechanism.New(st, mechanism.Options{Now: clk.Now})
		if err := m.Load(ctx); err != nil {
			t.Fatal(err)
		}
		return m
	}
	st1, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st1.Close()
	flaky := &flakyStore{Store: st1}
	m1 := open(flaky)
	for _, p := range []string{"alpha", "bravo"} {
		if _, err := m1.Access().AddParty(ctx, p, ""); err != nil {
			t.Fatal(err)
		}
	}
	st2, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	m2 := open(st2)

	alpha, bravo := dc.Actor{Party: "alpha", Role: dc.RoleOperator}, dc.Actor{Party: "bravo", Role: dc.RoleOperator}
	start := clk.Now().Add(2 * time.Hour)
	far := circleDecl(10, 10, start, start.Add(time.Hour))
	here := circleDecl(33, 35, start, start.Add(time.Hour))
	if _, err := m1.Declare(ctx, alpha, uuid.NewString(), far, nil); err != nil {
		t.Fatal(err)
	}
	flaky.failUpdates.Store(1)
	flaky.failViews.Store(1)
	if _, err := m1.Declare(ctx, alpha, uuid.NewString(), far, nil); err == nil {
		t.Fatal("the injected commit failure was not reported")
	}
	x := uuid.NewString()
	if _, err := m2.Declare(ctx, bravo, x, here, nil); err != nil {
		t.Fatal(err)
	}
	res, err := m1.Declare(ctx, alpha, uuid.NewString(), here, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Conflicts) != 1 {
		t.Fatalf("after a failed write, a declaration found %d conflicts, want 1 (with %s declared by another replica)", len(res.Conflicts), x)
	}
	if got := m1.Index().LiveOperations(); got != 3 {
		t.Errorf("the index holds %d live operations, want 3 (the failed one is not among them)", got)
	}
}
