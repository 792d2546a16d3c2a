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

// listDuties returns every duty the filter selects, a page of f.Limit at
// a time, checking the paging.
func listDuties(t *testing.T, s deconflict.Store, f deconflict.DutyFilter) []*deconflict.Duty {
	t.Helper()
	list := func(ctx context.Context, tx deconflict.Tx) ([]*deconflict.Duty, string, error) {
		return tx.Duties(ctx, f)
	}
	return collect(t, s, "Duties", f.Limit, &f.After, list, func(v *deconflict.Duty) string { return v.ID })
}

// dutiesDue returns what DutiesDue returns.
func dutiesDue(t *testing.T, s deconflict.Store, now time.Time, limit int) []*deconflict.Duty {
	t.Helper()
	return read(t, s, func(ctx context.Context, tx deconflict.Tx) ([]*deconflict.Duty, error) {
		return tx.DutiesDue(ctx, now, limit)
	})
}

func testDutyRoundTrip(t *testing.T, f Factory) {
	s := f.Open(t)
	full := newDuty(1, "alpha", deconflict.Subject{Kind: "operation", ID: opID(1)})
	sparse := sparseDuty(2, "bravo", deconflict.Subject{Kind: "conflict", ID: conflictID(2)})
	zero := &deconflict.Duty{ID: dutyID(3)} // empty subject and party, zero time
	escalated := newDuty(4, "charlie", deconflict.Subject{Kind: "message", ID: "msg-4"})
	escalated.Level, escalated.AckedAt, escalated.ClearedAt = deconflict.LevelAll, nil, nil
	ds := []*deconflict.Duty{full, sparse, zero, escalated}
	putAll(t, s, deconflict.Tx.PutDuty, ds[:2]...)
	putAll(t, s, deconflict.Tx.PutDuty, ds[2:]...)

	check := func(what string, want []*deconflict.Duty) {
		t.Helper()
		checkByID(t, s, what, deconflict.Tx.Duty, func(v *deconflict.Duty) string { return v.ID }, wantDuty, want, dutyID(99))
		equal(t, what+": Duties", listDuties(t, s, deconflict.DutyFilter{}), wantAll(wantDuty, want))
	}
	check("stored", ds)

	// Replace with every field changed, pointers set and cleared; a
	// replace keeps the place.
	full.Subject, full.Version, full.Party, full.Level = deconflict.Subject{Kind: "conflict", ID: conflictID(7)}, 12, "delta", 0
	full.CreatedAt = at(-500)
	full.DueAt, full.AckedAt, full.RaisedAt, full.ClearedAt = nil, nil, nil, nil
	replaced := newDuty(2, "echo", deconflict.Subject{Kind: "message", ID: "msg-2"})
	putAll(t, s, deconflict.Tx.PutDuty, replaced, full)
	ds[1] = replaced
	check("replaced", ds)
	// Back again.
	full = newDuty(1, "alpha", deconflict.Subject{Kind: "operation", ID: opID(1)})
	ds[0] = full
	putAll(t, s, deconflict.Tx.PutDuty, full)
	check("replaced again", ds)
}

func testDutiesFilter(t *testing.T, f Factory) {
	s := f.Open(t)
	r := rand.New(rand.NewPCG(seed(t), 3))
	parties := []string{"alpha", "bravo", "charlie", "al"}
	subjects := []deconflict.Subject{
		{Kind: "operation", ID: opID(1)},
		{Kind: "operation", ID: opID(2)},
		{Kind: "conflict", ID: opID(1)}, // the ID of another kind's subject
		{Kind: "message", ID: "m1"},
	}
	random := func(d *deconflict.Duty) {
		d.Party = parties[r.IntN(len(parties))]
		d.Subject = subjects[r.IntN(len(subjects))]
		d.Level = r.IntN(3)
		d.AckedAt = nil
		if r.IntN(2) == 0 {
			d.AckedAt = ptr(at(r.IntN(100)))
		}
	}
	var ds []*deconflict.Duty
	for i := range 80 {
		d := newDuty(i, "", deconflict.Subject{})
		random(d)
		ds = append(ds, d)
	}
	putAll(t, s, deconflict.Tx.PutDuty, ds[:50]...)
	putAll(t, s, deconflict.Tx.PutDuty, ds[50:]...)
	for i := 0; i < len(ds); i += 6 { // replaced: the order stays
		random(ds[i])
		putAll(t, s, deconflict.Tx.PutDuty, ds[i])
	}

	var filters []deconflict.DutyFilter
	for _, party := range []string{"", "alpha", "al", "echo"} {
		for _, subject := range []*deconflict.Subject{nil, &subjects[0], &subjects[2], {Kind: "operation", ID: "none"}} {
			for _, escalated := range []bool{false, true} {
				for _, open := range []bool{false, true} {
					filters = append(filters, deconflict.DutyFilter{Party: party, Subject: subject, Escalated: escalated, Open: open})
				}
			}
		}
	}
	for i, flt := range filters {
		var want []*deconflict.Duty
		for _, d := range ds {
			if (flt.Party == "" || d.Party == flt.Party) &&
				(flt.Subject == nil || d.Subject == *flt.Subject) &&
				(!flt.Escalated || d.Level >= deconflict.LevelHeads) &&
				(!flt.Open || d.AckedAt == nil) {
				want = append(want, wantDuty(d))
			}
		}
		limits := []int{len(want), 0}
		if i%4 == 0 {
			limits = append(limits, 1, 3)
		}
		for _, limit := range limits {
			flt.Limit = limit
			got := listDuties(t, s, flt)
			equal(t, fmt.Sprintf("filter %d (%s), limit %d", i, dump(flt), limit), got, want)
		}
	}
}

func testDutiesDue(t *testing.T, f Factory) {
	s := f.Open(t)
	if got := dutiesDue(t, s, at(1000), 10); len(got) != 0 {
		t.Errorf("DutiesDue of a new store: %d duties, want none", len(got))
	}
	// Due times not in the order of storage, one tie, and duties that are
	// never due: acknowledged (with a due time left in the past), or with
	// no due time.
	var ds []*deconflict.Duty
	for i, due := range []int{50, 10, 30, 20, 40, 30, 60, 5, 25} {
		d := newDuty(i, "alpha", deconflict.Subject{Kind: "operation", ID: opID(i)})
		d.DueAt, d.AckedAt, d.ClearedAt = ptr(at(due)), nil, nil
		d.Level = i % 2
		ds = append(ds, d)
	}
	ds[7].AckedAt = ptr(at(4))
	ds[8].DueAt = nil
	putAll(t, s, deconflict.Tx.PutDuty, ds...)

	// due is the oracle: the duties due at now, earliest first.
	due := func(ds []*deconflict.Duty, now time.Time) []*deconflict.Duty {
		var want []*deconflict.Duty
		for _, d := range ds {
			if d.AckedAt == nil && d.DueAt != nil && !d.DueAt.After(now) {
				want = append(want, d)
			}
		}
		slices.SortStableFunc(want, func(a, b *deconflict.Duty) int { return a.DueAt.Compare(*b.DueAt) })
		return wantAll(wantDuty, want)
	}
	// check compares got with the first limit duties of want. Of duties
	// due at the same time, either may come first.
	check := func(what string, got, want []*deconflict.Duty, limit int) {
		t.Helper()
		if limit <= 0 {
			limit = 1000
		}
		want = want[:min(limit, len(want))]
		if len(got) != len(want) {
			t.Errorf("%s: %d duties, want %d:\n got %s\nwant %s", what, len(got), len(want), dump(got), dump(want))
			return
		}
		byID := map[string]*deconflict.Duty{}
		for _, d := range due(ds, at(1000)) {
			byID[d.ID] = d
		}
		seen := map[string]bool{}
		for i, d := range got {
			if seen[d.ID] {
				t.Errorf("%s: duty %s twice", what, d.ID)
			}
			seen[d.ID] = true
			if d.DueAt == nil || want[i].DueAt == nil || !d.DueAt.Equal(*want[i].DueAt) {
				t.Errorf("%s: duty %d is %s, want one due at %s:\n got %s\nwant %s", what, i, d.ID, fmtTime(*want[i].DueAt), dump(got), dump(want))
				return
			}
			equal(t, what+": duty "+d.ID, d, byID[d.ID])
		}
	}
	for _, now := range []time.Time{
		at(0), at(5), at(10).Add(-time.Nanosecond), at(10).Add(-time.Microsecond),
		at(10), // the boundary is inclusive
		at(10).Add(999 * time.Nanosecond), at(30), at(30).In(time.UTC), at(35), at(60), at(1000),
	} {
		for _, limit := range []int{1, 2, 3, 100, 0} {
			check(fmt.Sprintf("DutiesDue(%s, %d)", fmtTime(now), limit), dutiesDue(t, s, now, limit), due(ds, now), limit)
		}
	}

	// Acknowledged, or no longer due: gone from the list. Due later: moves.
	ds[1].AckedAt = ptr(at(11))
	ds[3].DueAt = nil
	ds[0].DueAt = ptr(at(1))
	ds[7].AckedAt, ds[7].DueAt = nil, ptr(at(15))
	putAll(t, s, deconflict.Tx.PutDuty, ds[1], ds[3], ds[0], ds[7])
	for _, now := range []time.Time{at(0), at(1), at(15), at(30), at(1000)} {
		for _, limit := range []int{1, 3, 0} {
			check(fmt.Sprintf("after replace: DutiesDue(%s, %d)", fmtTime(now), limit), dutiesDue(t, s, now, limit), due(ds, now), limit)
		}
	}
}
