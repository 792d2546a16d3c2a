package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/deconflict/deconflict"
)

// listOperations returns every operation the filter selects, a page of
// f.Limit at a time, checking the paging.
func listOperations(t *testing.T, s deconflict.Store, f deconflict.OperationFilter) []*deconflict.Operation {
	t.Helper()
	list := func(ctx context.Context, tx deconflict.Tx) ([]*deconflict.Operation, string, error) {
		return tx.Operations(ctx, f)
	}
	return collect(t, s, "Operations", f.Limit, &f.After, list, func(v *deconflict.Operation) string { return v.ID })
}

// getOperation returns the operation with the ID, failing the test if
// there is none.
func getOperation(t *testing.T, s deconflict.Store, id string) *deconflict.Operation {
	t.Helper()
	return read(t, s, func(ctx context.Context, tx deconflict.Tx) (*deconflict.Operation, error) {
		return tx.Operation(ctx, id)
	})
}

func testOperationRoundTrip(t *testing.T, f Factory) {
	s := f.Open(t)
	full := newOperation(1, "alpha", deconflict.StateActive, at(60), at(150), 7)
	sparse := sparseOperation(2, "bravo", at(0), at(1))
	empty := &deconflict.Operation{ID: opID(3), Party: "bravo", State: deconflict.StateEnded, Volumes: []deconflict.Volume4D{},
		Callsign: ptr(""), Notes: ptr(""), Start: at(0), End: at(0)}
	big := newOperation(4, "charlie", deconflict.StatePlanned, at(0), at(10), 1<<40)
	big.Volumes = nil
	for i := range deconflict.MaxVolumes {
		v := volumes(at(i), at(i+1))[i%2]
		if i == 0 {
			v.Volume.OutlinePolygon.Vertices = nil
			for j := range deconflict.MaxVertices {
				v.Volume.OutlinePolygon.Vertices = append(v.Volume.OutlinePolygon.Vertices,
					deconflict.LatLng{Lat: ptr(float64(j) * 1e-4), Lng: ptr(-float64(j) / 3)})
			}
		}
		big.Volumes = append(big.Volumes, v)
	}
	ops := []*deconflict.Operation{full, sparse, empty, big}
	putAll(t, s, deconflict.Tx.PutOperation, ops...)

	for _, op := range ops {
		got := getOperation(t, s, op.ID)
		equal(t, "Operation("+op.ID+")", got, wantOperation(op))
	}
	ctx := t.Context()
	err := s.View(ctx, func(tx deconflict.Tx) error {
		_, err := tx.Operation(ctx, opID(99))
		return err
	})
	wantCode(t, "Operation of an unknown ID", err, deconflict.ENotFound)
}

func testPutOperationReplaces(t *testing.T, f Factory) {
	s := f.Open(t)
	var ops []*deconflict.Operation
	for i := range 5 {
		ops = append(ops, newOperation(i, "alpha", deconflict.StatePlanned, at(i), at(i+30), int64(i+1)))
	}
	putAll(t, s, deconflict.Tx.PutOperation, ops...)

	// Replace the first, with every field changed, and the third, with its
	// optional fields cleared.
	first := sparseOperation(0, "bravo", at(500), at(600))
	first.State, first.Version, first.Rev = deconflict.StateActive, 9, 10
	third := *ops[2]
	third.Callsign, third.Notes, third.Rev = nil, nil, 11
	putAll(t, s, deconflict.Tx.PutOperation, first)
	putAll(t, s, deconflict.Tx.PutOperation, &third)
	ops[0], ops[2] = first, &third

	for _, op := range ops {
		equal(t, "Operation after replace", getOperation(t, s, op.ID), wantOperation(op))
	}
	// A replace keeps the operation's place: lists go by first storage.
	got := listOperations(t, s, deconflict.OperationFilter{})
	equal(t, "Operations after replace", got, wantAll(wantOperation, ops))
}

// opsOracle returns the operations of ops (in storage order) that f
// selects, as the interface documents it.
func opsOracle(ops []*deconflict.Operation, f deconflict.OperationFilter) []*deconflict.Operation {
	var want []*deconflict.Operation
	for _, op := range ops {
		switch {
		case f.Party != "" && op.Party != f.Party:
		case len(f.States) > 0 && !slices.Contains(f.States, op.State):
		case !f.Start.IsZero() && op.End.Before(f.Start):
		case !f.End.IsZero() && op.Start.After(f.End):
		case f.IDs != nil && !slices.Contains(f.IDs, op.ID):
		case f.Match != nil && !f.Match(op):
		default:
			want = append(want, op)
		}
	}
	return wantAll(wantOperation, want)
}

func testOperationsFilter(t *testing.T, f Factory) {
	s := f.Open(t)
	r := rand.New(rand.NewPCG(seed(t), 1))
	parties := []string{"alpha", "bravo", "charlie"}
	states := []deconflict.State{deconflict.StatePlanned, deconflict.StateActive, deconflict.StateEnded, deconflict.StateCancelled}
	var ops []*deconflict.Operation
	for i := range 80 {
		start := at(r.IntN(600))
		op := newOperation(i, parties[r.IntN(len(parties))], states[r.IntN(len(states))],
			start, start.Add(time.Duration(1+r.IntN(120))*time.Minute), int64(i+1))
		ops = append(ops, op)
	}
	// Store in a few transactions, and replace some: the order stays that
	// of first storage.
	putAll(t, s, deconflict.Tx.PutOperation, ops[:30]...)
	putAll(t, s, deconflict.Tx.PutOperation, ops[30:]...)
	for i := 0; i < len(ops); i += 7 {
		ops[i].State = states[r.IntN(len(states))]
		ops[i].Rev += 1000
	}
	putAll(t, s, deconflict.Tx.PutOperation, ops[0], ops[14], ops[7])
	for i := 0; i < len(ops); i += 7 {
		putAll(t, s, deconflict.Tx.PutOperation, ops[i])
	}

	filters := []deconflict.OperationFilter{
		{},
		{Party: "alpha"},
		{Party: "delta"},
		{States: []deconflict.State{deconflict.StatePlanned, deconflict.StateActive}},
		{States: []deconflict.State{deconflict.StateCancelled}},
		{Party: "bravo", States: []deconflict.State{deconflict.StateEnded, deconflict.StatePlanned}},
	}
	for range 20 {
		var flt deconflict.OperationFilter
		if r.IntN(2) == 0 {
			flt.Party = parties[r.IntN(len(parties))]
		}
		for _, st := range states {
			if r.IntN(3) == 0 {
				flt.States = append(flt.States, st)
			}
		}
		if r.IntN(3) > 0 {
			flt.Start = at(r.IntN(700) - 50)
		}
		if r.IntN(3) > 0 {
			flt.End = flt.Start.Add(time.Duration(r.IntN(200)) * time.Minute)
			if flt.Start.IsZero() {
				flt.End = at(r.IntN(700))
			}
		}
		filters = append(filters, flt)
	}
	for i, flt := range filters {
		want := opsOracle(ops, flt)
		for _, limit := range []int{1, 2, 7, len(want), 0} {
			flt.Limit = limit
			got := listOperations(t, s, flt)
			equal(t, fmt.Sprintf("filter %d (%s), limit %d", i, dump(flt), limit), got, want)
		}
	}
}

func testOperationsTimeWindow(t *testing.T, f Factory) {
	s := f.Open(t)
	op := newOperation(1, "alpha", deconflict.StatePlanned, at(60), at(120), 1)
	putAll(t, s, deconflict.Tx.PutOperation, op)
	for _, tc := range []struct {
		start, end time.Time
		want       bool
	}{
		{at(0), at(30), false},
		{at(0), at(60), true}, // touches the start
		{at(0), at(60).Add(-time.Microsecond), false},
		{at(70), at(80), true},   // inside
		{at(0), at(200), true},   // around
		{at(120), at(180), true}, // touches the end
		{at(120).Add(time.Microsecond), at(180), false},
		{at(130), at(180), false},
		{time.Time{}, at(59), false}, // open start
		{time.Time{}, at(60), true},
		{at(120), time.Time{}, true}, // open end
		{at(121), time.Time{}, false},
		{at(90), at(90), true}, // an instant
	} {
		got := listOperations(t, s, deconflict.OperationFilter{Start: tc.start, End: tc.end})
		if (len(got) == 1) != tc.want {
			t.Errorf("window [%s, %s] on [%s, %s]: listed %d, want overlap %v",
				fmtTime(tc.start), fmtTime(tc.end), fmtTime(op.Start), fmtTime(op.End), len(got), tc.want)
		}
	}
}

func testOperationsMatch(t *testing.T, f Factory) {
	s := f.Open(t)
	var ops []*deconflict.Operation
	for i := range 50 {
		ops = append(ops, newOperation(i, []string{"alpha", "bravo"}[i%2], deconflict.StatePlanned, at(i), at(i+10), 1))
	}
	putAll(t, s, deconflict.Tx.PutOperation, ops...)
	for _, tc := range []struct {
		name  string
		match func(*deconflict.Operation) bool
	}{
		{"priority 3", func(op *deconflict.Operation) bool { return op.Priority == 3 }},
		{"none", func(*deconflict.Operation) bool { return false }},
		{"all", func(*deconflict.Operation) bool { return true }},
		{"first and last", func(op *deconflict.Operation) bool { return op.ID == ops[0].ID || op.ID == ops[49].ID }},
		{"callsign", func(op *deconflict.Operation) bool { return op.Callsign != nil && len(*op.Callsign) == len("VIPER 10") }},
	} {
		for _, party := range []string{"", "alpha"} {
			flt := deconflict.OperationFilter{Party: party, Match: tc.match}
			want := opsOracle(ops, flt)
			for _, limit := range []int{1, 3, len(want), 0} {
				flt.Limit = limit
				got := listOperations(t, s, flt)
				equal(t, fmt.Sprintf("Match %s, party %q, limit %d", tc.name, party, limit), got, want)
			}
		}
	}
	// IDs narrows the list to those operations, with the other filters.
	for _, tc := range []struct {
		name string
		ids  []string
	}{
		{"none", []string{}},
		{"one", []string{ops[7].ID}},
		{"some, out of order", []string{ops[40].ID, ops[3].ID, ops[21].ID, ops[22].ID, "no-such-operation"}},
		{"every other", func() (ids []string) {
			for i := 0; i < len(ops); i += 2 {
				ids = append(ids, ops[i].ID)
			}
			return ids
		}()},
	} {
		for _, party := range []string{"", "bravo"} {
			flt := deconflict.OperationFilter{Party: party, IDs: tc.ids}
			want := opsOracle(ops, flt)
			for _, limit := range []int{1, 2, 0} {
				flt.Limit = limit
				got := listOperations(t, s, flt)
				equal(t, fmt.Sprintf("IDs %s, party %q, limit %d", tc.name, party, limit), got, want)
			}
		}
	}
	// Match sees the whole operation, Start, End and Rev included.
	var saw *deconflict.Operation
	listOperations(t, s, deconflict.OperationFilter{Match: func(op *deconflict.Operation) bool {
		if op.ID == ops[5].ID {
			saw = op
		}
		return false
	}})
	equal(t, "operation Match saw", saw, wantOperation(ops[5]))
}

// since returns the IDs of the operations OperationsSince visits.
func since(t *testing.T, s deconflict.Store, rev int64, liveOnly bool) []*deconflict.Operation {
	t.Helper()
	var got []*deconflict.Operation
	view(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		return tx.OperationsSince(ctx, rev, liveOnly, func(op *deconflict.Operation) error {
			got = append(got, op)
			return nil
		})
	})
	return got
}

func testOperationsSince(t *testing.T, f Factory) {
	s := f.Open(t)
	states := []deconflict.State{deconflict.StatePlanned, deconflict.StateActive, deconflict.StateEnded, deconflict.StateCancelled}
	// Revs unique and not in storage order; more than any batch a store
	// might read at a time.
	const n = 600
	var ops []*deconflict.Operation
	for i := range n {
		rev := int64((i*389)%n + 1)
		ops = append(ops, newOperation(i, "alpha", states[i%4], at(i), at(i+5), rev))
	}
	putAll(t, s, deconflict.Tx.PutOperation, ops...)
	byRev := slices.Clone(ops)
	slices.SortFunc(byRev, func(a, b *deconflict.Operation) int { return int(a.Rev - b.Rev) })

	for _, rev := range []int64{0, 1, 250, n - 1, n, n + 100} {
		for _, live := range []bool{false, true} {
			var want []*deconflict.Operation
			for _, op := range byRev {
				if op.Rev > rev && (!live || op.State.Live()) {
					want = append(want, wantOperation(op))
				}
			}
			got := since(t, s, rev, live)
			equal(t, fmt.Sprintf("OperationsSince(%d, %v)", rev, live), got, want)
		}
	}

	// An error from fn stops the walk and is returned.
	stop := errors.New("stop")
	calls := 0
	ctx := t.Context()
	err := s.View(ctx, func(tx deconflict.Tx) error {
		return tx.OperationsSince(ctx, 0, false, func(*deconflict.Operation) error {
			calls++
			if calls == 3 {
				return stop
			}
			return nil
		})
	})
	if !errors.Is(err, stop) {
		t.Errorf("OperationsSince with fn failing: error %v, want %v", err, stop)
	}
	if calls != 3 {
		t.Errorf("OperationsSince went on after fn failed: %d calls, want 3", calls)
	}
}

// testOperationsSinceWrites checks that fn may write in the walk, and the
// walk still ends, visiting no operation twice.
func testOperationsSinceWrites(t *testing.T, f Factory) {
	s := f.Open(t)
	var ops []*deconflict.Operation
	for i := range 300 {
		ops = append(ops, newOperation(i, "alpha", deconflict.StatePlanned, at(i), at(i+5), int64(i+1)))
	}
	putAll(t, s, deconflict.Tx.PutOperation, ops...)
	seen := map[string]int{}
	calls := 0
	next := int64(1000)
	update(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		return tx.OperationsSince(ctx, 0, true, func(op *deconflict.Operation) error {
			seen[op.ID]++
			if calls++; calls > 2*len(ops) {
				return errors.New("walk does not end")
			}
			// Bump this one and a later one past every Rev.
			op.Rev, next = next, next+1
			if err := tx.PutOperation(ctx, op); err != nil {
				return err
			}
			other := ops[(len(seen)*7)%len(ops)]
			other.Rev, next = next, next+1
			return tx.PutOperation(ctx, other)
		})
	})
	for id, n := range seen {
		if n > 1 {
			t.Errorf("OperationsSince visited %s %d times", id, n)
		}
	}
	if len(seen) < len(ops)/2 {
		t.Errorf("OperationsSince visited %d of %d operations", len(seen), len(ops))
	}
}

func testInvalidCursor(t *testing.T, f Factory) {
	s := f.Open(t)
	ctx := t.Context()
	for _, c := range []string{"x", "!!", "not a cursor"} {
		err := s.View(ctx, func(tx deconflict.Tx) error {
			_, _, err := tx.Operations(ctx, deconflict.OperationFilter{After: c})
			return err
		})
		wantCode(t, fmt.Sprintf("Operations after %q", c), err, deconflict.EInvalid)
		err = s.View(ctx, func(tx deconflict.Tx) error {
			_, _, err := tx.Conflicts(ctx, deconflict.ConflictFilter{After: c})
			return err
		})
		wantCode(t, fmt.Sprintf("Conflicts after %q", c), err, deconflict.EInvalid)
		err = s.View(ctx, func(tx deconflict.Tx) error {
			_, _, err := tx.Duties(ctx, deconflict.DutyFilter{After: c})
			return err
		})
		wantCode(t, fmt.Sprintf("Duties after %q", c), err, deconflict.EInvalid)
		err = s.View(ctx, func(tx deconflict.Tx) error {
			_, _, err := tx.Messages(ctx, deconflict.MessageFilter{After: c})
			return err
		})
		wantCode(t, fmt.Sprintf("Messages after %q", c), err, deconflict.EInvalid)
	}
}
