package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/deconflict/deconflict"
)

// listConflicts returns every conflict the filter selects, a page of
// f.Limit at a time, checking the paging.
func listConflicts(t *testing.T, s deconflict.Store, f deconflict.ConflictFilter) []*deconflict.Conflict {
	t.Helper()
	list := func(ctx context.Context, tx deconflict.Tx) ([]*deconflict.Conflict, string, error) {
		return tx.Conflicts(ctx, f)
	}
	return collect(t, s, "Conflicts", f.Limit, &f.After, list, func(v *deconflict.Conflict) string { return v.ID })
}

func testConflictRoundTrip(t *testing.T, f Factory) {
	s := f.Open(t)
	open := newConflict(1, opID(1), opID(2), "alpha", "bravo", deconflict.ConflictOpen)
	resolved := newConflict(2, opID(3), opID(1), "charlie", "alpha", deconflict.ConflictResolved)
	resolved.Acknowledged = nil
	resolved.Waived = map[string]*time.Time{}
	waived := newConflict(3, opID(4), opID(5), "alpha", "charlie", deconflict.ConflictWaived)
	waived.Waived = map[string]*time.Time{"alpha": ptr(at(20)), "charlie": ptr(at(21))}
	cs := []*deconflict.Conflict{open, resolved, waived}
	putAll(t, s, deconflict.Tx.PutConflict, cs...)

	check := func(what string, want []*deconflict.Conflict) {
		t.Helper()
		checkByID(t, s, what, deconflict.Tx.Conflict, func(v *deconflict.Conflict) string { return v.ID }, wantConflict, want, conflictID(99))
		equal(t, what+": Conflicts", listConflicts(t, s, deconflict.ConflictFilter{}), wantAll(wantConflict, want))
	}
	check("stored", cs)

	// Replace: acknowledged, then resolved; a replace keeps the place.
	open.Acknowledged["alpha"] = ptr(at(30))
	open.UpdatedAt = at(30)
	putAll(t, s, deconflict.Tx.PutConflict, open)
	check("acknowledged", cs)
	open.Status = deconflict.ConflictResolved
	open.ClosedAt = ptr(at(40))
	open.Acknowledged = map[string]*time.Time{"alpha": nil, "bravo": nil}
	putAll(t, s, deconflict.Tx.PutConflict, open)
	check("resolved", cs)
	// Reopened, named the other way round.
	open.Status, open.ClosedAt = deconflict.ConflictOpen, nil
	open.Operations = [2]string{open.Operations[1], open.Operations[0]}
	open.Parties = [2]string{open.Parties[1], open.Parties[0]}
	putAll(t, s, deconflict.Tx.PutConflict, open)
	check("reopened", cs)
}

func testConflictPairs(t *testing.T, f Factory) {
	s := f.Open(t)
	a, b, c, d := opID(1), opID(2), opID(3), opID(4)
	ab := newConflict(1, a, b, "alpha", "bravo", deconflict.ConflictOpen)
	ca := newConflict(2, c, a, "charlie", "alpha", deconflict.ConflictResolved)
	bc := newConflict(3, b, c, "bravo", "charlie", deconflict.ConflictWaived)
	putAll(t, s, deconflict.Tx.PutConflict, ab, ca, bc)

	ctx := t.Context()
	view(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		for _, tc := range []struct {
			op1, op2 string
			want     *deconflict.Conflict
		}{
			{a, b, ab}, {b, a, ab}, {a, c, ca}, {c, a, ca}, {c, b, bc},
			{a, d, nil}, {d, a, nil}, {a, a, nil},
		} {
			got, err := tx.ConflictByPair(ctx, tc.op1, tc.op2)
			what := fmt.Sprintf("ConflictByPair(%s, %s)", tc.op1, tc.op2)
			if tc.want == nil {
				wantCode(t, what, err, deconflict.ENotFound)
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			equal(t, what, got, wantConflict(tc.want))
		}
		for _, tc := range []struct {
			op   string
			want []*deconflict.Conflict
		}{
			{a, []*deconflict.Conflict{ab, ca}},
			{b, []*deconflict.Conflict{ab, bc}},
			{c, []*deconflict.Conflict{ca, bc}},
			{d, nil},
		} {
			got, err := tx.ConflictsOf(ctx, tc.op)
			if err != nil {
				t.Fatalf("ConflictsOf(%s): %v", tc.op, err)
			}
			if len(got) == 0 {
				got = nil
			}
			equal(t, "ConflictsOf("+tc.op+")", got, wantAll(wantConflict, tc.want))
		}
		return nil
	})

	// One conflict per pair, whichever way round it is named.
	dup := newConflict(4, b, a, "bravo", "alpha", deconflict.ConflictOpen)
	err := s.Update(ctx, func(tx deconflict.Tx) error { return tx.PutConflict(ctx, dup) })
	wantCode(t, "PutConflict of a second conflict of a pair", err, deconflict.EExists)
	equal(t, "Conflicts after a second conflict of a pair", listConflicts(t, s, deconflict.ConflictFilter{}),
		wantAll(wantConflict, []*deconflict.Conflict{ab, ca, bc}))
}

func testConflictsFilter(t *testing.T, f Factory) {
	s := f.Open(t)
	r := rand.New(rand.NewPCG(seed(t), 2))
	parties := []string{"alpha", "bravo", "charlie", "delta"}
	statuses := []deconflict.ConflictStatus{deconflict.ConflictOpen, deconflict.ConflictResolved, deconflict.ConflictWaived}
	var cs []*deconflict.Conflict
	for i := range 70 {
		p1 := r.IntN(len(parties))
		p2 := (p1 + 1 + r.IntN(len(parties)-1)) % len(parties)
		cs = append(cs, newConflict(i, opID(2*i), opID(2*i+1), parties[p1], parties[p2], statuses[r.IntN(len(statuses))]))
	}
	putAll(t, s, deconflict.Tx.PutConflict, cs[:40]...)
	putAll(t, s, deconflict.Tx.PutConflict, cs[40:]...)
	for i := 0; i < len(cs); i += 5 { // replaced: the order stays
		cs[i].Status = statuses[r.IntN(len(statuses))]
		putAll(t, s, deconflict.Tx.PutConflict, cs[i])
	}

	var filters []deconflict.ConflictFilter
	for _, party := range append([]string{"", "echo"}, parties...) {
		filters = append(filters, deconflict.ConflictFilter{Party: party})
		for range 3 {
			flt := deconflict.ConflictFilter{Party: party}
			for _, st := range statuses {
				if r.IntN(2) == 0 {
					flt.Statuses = append(flt.Statuses, st)
				}
			}
			filters = append(filters, flt)
		}
	}
	for i, flt := range filters {
		var want []*deconflict.Conflict
		for _, c := range cs {
			if (flt.Party == "" || c.Involves(flt.Party)) && (len(flt.Statuses) == 0 || slices.Contains(flt.Statuses, c.Status)) {
				want = append(want, wantConflict(c))
			}
		}
		for _, limit := range []int{1, 4, len(want), 0} {
			flt.Limit = limit
			got := listConflicts(t, s, flt)
			equal(t, fmt.Sprintf("filter %d (%s), limit %d", i, dump(flt), limit), got, want)
		}
	}
	// The optional count agrees with the lists, whatever was replaced.
	view(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		ctr, ok := tx.(deconflict.ConflictCounter)
		if !ok {
			return nil
		}
		for _, st := range statuses {
			want := 0
			for _, c := range cs {
				if c.Status == st {
					want++
				}
			}
			got, err := ctr.CountConflicts(ctx, st)
			if err != nil {
				return err
			}
			if got != int64(want) {
				t.Errorf("CountConflicts(%s) = %d, want %d", st, got, want)
			}
		}
		return nil
	})
}
