package mechanism_test

import (
	"context"
	"slices"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/sqlite"
	"github.com/google/uuid"
)

// A declaration searches its conflicts before it waits for the write lock
// (mechanism.Declare); whatever changes between that search and its write
// (the minima, the index itself, other processes' operations), the write
// answers what a search at that moment would. Each test below makes one
// such change in the gap.

var (
	aheadAlpha = dc.Actor{Party: "alpha", Role: dc.RoleOperator}
	aheadBravo = dc.Actor{Party: "bravo", Role: dc.RoleOperator}
)

// conflictsWith returns the other operations of the result's open
// conflicts, sorted.
func conflictsWith(res *mechanism.Result) []string {
	var ids []string
	for _, c := range res.Conflicts {
		ids = append(ids, c.Other(res.Operation.ID))
	}
	slices.Sort(ids)
	return ids
}

func mustDeclare(t *testing.T, m *mechanism.Mechanism, a dc.Actor, d mechanism.Declaration) string {
	t.Helper()
	id := uuid.NewString()
	if _, err := m.Declare(context.Background(), a, id, d, nil); err != nil {
		t.Fatal(err)
	}
	return id
}

// declareWithGap declares d for alpha with between run in the gap, and
// returns the operations it conflicts with and whether its check was
// searched ahead (true) or again under the lock.
func declareWithGap(t *testing.T, m *mechanism.Mechanism, d mechanism.Declaration, between func()) ([]string, bool) {
	t.Helper()
	ahead, inBatch := m.Health().Stats().ChecksAhead.Load(), m.Health().Stats().ChecksInBatch.Load()
	res, err := m.DeclareWithGap(context.Background(), aheadAlpha, uuid.NewString(), d, between)
	if err != nil {
		t.Fatal(err)
	}
	da, db := m.Health().Stats().ChecksAhead.Load()-ahead, m.Health().Stats().ChecksInBatch.Load()-inBatch
	if da+db != 1 {
		t.Fatalf("one declaration counted %d checks ahead and %d in the batch", da, db)
	}
	return conflictsWith(res), da == 1
}

func TestAheadNothingInTheGap(t *testing.T) {
	m, clk := mustOpen(t)
	start := clk.Now().Add(2 * time.Hour)
	b := mustDeclare(t, m, aheadBravo, circleDecl(33, 35, start, start.Add(time.Hour)))
	got, ahead := declareWithGap(t, m, circleDecl(33, 35.06, start, start.Add(time.Hour)), nil)
	if !slices.Equal(got, []string{b}) || !ahead {
		t.Fatalf("conflicts with %v, searched ahead %v; want [%s], true", got, ahead, b)
	}
}

func TestAheadAfterSettingsChange(t *testing.T) {
	m, clk := mustOpen(t)
	start := clk.Now().Add(2 * time.Hour)
	mustDeclare(t, m, aheadBravo, circleDecl(33, 35, start, start.Add(time.Hour)))
	// 5.6 km between the centres, 2 km radii: in conflict under the
	// default 9,260 m when searched, not under 500 m when written.
	got, ahead := declareWithGap(t, m, circleDecl(33, 35.06, start, start.Add(time.Hour)), func() {
		s := dc.DefaultSettings()
		s.HorizontalM = 500
		if _, err := m.Settings().Put(context.Background(), dc.Actor{Role: dc.RoleAdmin}, s); err != nil {
			t.Fatal(err)
		}
	})
	if len(got) != 0 || ahead {
		t.Fatalf("conflicts with %v, searched ahead %v; want none, searched again under the new minima", got, ahead)
	}
}

// twoProcesses returns two mechanisms on one store file, as two server
// processes (or a server and the CLI) would have it.
func twoProcesses(t *testing.T) (m1, m2 *mechanism.Mechanism, clk *clock) {
	t.Helper()
	path := t.TempDir() + "/d.db"
	open := func() dc.Store {
		st, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	m1, clk = openOn(t, open(), "alpha", "bravo")
	m2 = mechanism.New(open(), mechanism.Options{Now: clk.Now})
	if err := m2.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	return m1, m2, clk
}

func TestAheadAfterAnotherProcess(t *testing.T) {
	m1, m2, clk := twoProcesses(t)
	ctx := context.Background()
	start := clk.Now().Add(2 * time.Hour)
	b1 := mustDeclare(t, m1, aheadBravo, circleDecl(33, 35, start, start.Add(time.Hour)))
	var b2 string
	// In the gap, the other process cancels what the search found and
	// declares something else close by; the write catches up with both.
	got, ahead := declareWithGap(t, m1, circleDecl(33, 35.06, start, start.Add(time.Hour)), func() {
		if _, err := m2.Cancel(ctx, aheadBravo, b1, nil); err != nil {
			t.Fatal(err)
		}
		b2 = mustDeclare(t, m2, aheadBravo, circleDecl(33, 35.1, start, start.Add(time.Hour)))
	})
	if !slices.Equal(got, []string{b2}) || !ahead {
		t.Fatalf("conflicts with %v, searched ahead %v; want [%s], true", got, ahead, b2)
	}
}

func TestAheadAfterReload(t *testing.T) {
	m1, m2, clk := twoProcesses(t)
	ctx := context.Background()
	start := clk.Now().Add(2 * time.Hour)
	b1 := mustDeclare(t, m1, aheadBravo, circleDecl(33, 35, start, start.Add(time.Hour)))
	var b2 string
	// In the gap, this process's index is replaced by one loaded from the
	// store (as after a failed write), and another process declares close
	// by, which the write's catch-up adds to the new index: an answer of
	// the old index cannot be brought forward on the new one, even where
	// their counts of changes happen to meet.
	got, ahead := declareWithGap(t, m1, circleDecl(33, 35.06, start, start.Add(time.Hour)), func() {
		if err := m1.Index().ReloadIndex(ctx); err != nil {
			t.Fatal(err)
		}
		b2 = mustDeclare(t, m2, aheadBravo, circleDecl(33, 35.1, start, start.Add(time.Hour)))
	})
	want := []string{b1, b2}
	slices.Sort(want)
	if !slices.Equal(got, want) || ahead {
		t.Fatalf("conflicts with %v, searched ahead %v; want %v, searched again", got, ahead, want)
	}
}
