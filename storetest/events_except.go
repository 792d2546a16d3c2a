package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/deconflict/deconflict"
)

// testEventsExcept checks that EventsExcept returns the events of a range
// of seqs but those skipped, read back as Events reads them, also those
// appended earlier in the same transaction.
func testEventsExcept(t *testing.T, f Factory) {
	s := f.Open(t)
	var es []*deconflict.Event
	for i := range 8 {
		es = append(es, &deconflict.Event{Type: deconflict.EventOperationDeclared, Time: at(i),
			Actor:    deconflict.Actor{Party: "alpha", Role: deconflict.RoleOperator},
			Subject:  &deconflict.Subject{Kind: "operation", ID: opID(i)},
			Audience: []string{"alpha"},
			Data:     json.RawMessage(fmt.Sprintf(`{"n": %d}`, i))})
	}
	putAll(t, s, deconflict.Tx.AppendEvent, es...)
	bySeq := func(seqs ...int64) []*deconflict.Event {
		var w []*deconflict.Event
		for _, q := range seqs {
			w = append(w, es[q-1])
		}
		return w
	}
	for _, c := range []struct {
		after, through int64
		skip           []int64
		want           []*deconflict.Event
	}{
		{0, 8, nil, es},
		{0, 8, []int64{}, es},
		{0, 8, []int64{2, 3, 5, 8}, bySeq(1, 4, 6, 7)},
		{2, 6, []int64{1, 3, 6, 9}, bySeq(4, 5)},
		{0, 8, []int64{1, 2, 3, 4, 5, 6, 7, 8}, nil},
		{3, 3, nil, nil},
		{8, 20, nil, nil},
		{6, 20, []int64{7}, bySeq(8)},
	} {
		what := fmt.Sprintf("EventsExcept(%d, %d, %v)", c.after, c.through, c.skip)
		got := read(t, s, func(ctx context.Context, tx deconflict.Tx) ([]*deconflict.Event, error) {
			return tx.EventsExcept(ctx, c.after, c.through, c.skip)
		})
		equalEvents(t, what, got, c.want)
	}
	more := []*deconflict.Event{
		{Type: deconflict.EventLineCheck, Time: at(8), Data: json.RawMessage(`"nine"`)},
		{Type: deconflict.EventLineCheck, Time: at(9), Data: json.RawMessage(`"ten"`)},
	}
	var got []*deconflict.Event
	update(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		for _, e := range more {
			if err := tx.AppendEvent(ctx, e); err != nil {
				return err
			}
		}
		var err error
		got, err = tx.EventsExcept(ctx, 7, 10, []int64{9})
		return err
	})
	equalEvents(t, "EventsExcept(7, 10, [9]) in the transaction that appended 9 and 10", got, []*deconflict.Event{es[7], more[1]})
}
