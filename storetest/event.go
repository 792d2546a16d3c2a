package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/deconflict/deconflict"
)

// getEvents returns the events after the seq, up to limit.
func getEvents(t *testing.T, s deconflict.Store, after int64, limit int) []*deconflict.Event {
	t.Helper()
	return read(t, s, func(ctx context.Context, tx deconflict.Tx) ([]*deconflict.Event, error) {
		return tx.Events(ctx, after, limit)
	})
}

// lastSeq returns the store's LastSeq.
func lastSeq(t *testing.T, s deconflict.Store) int64 {
	t.Helper()
	return read(t, s, func(ctx context.Context, tx deconflict.Tx) (int64, error) { return tx.LastSeq(ctx) })
}

// wantEvent returns e as a store returns it, in the form sameEvents
// compares: time in UTC, an empty audience nil, data compacted.
func wantEvent(t *testing.T, e *deconflict.Event) *deconflict.Event {
	t.Helper()
	w := *e
	w.Time = e.Time.UTC()
	if len(w.Audience) == 0 {
		w.Audience = nil
	}
	if len(e.Data) > 0 {
		var b bytes.Buffer
		if err := json.Compact(&b, e.Data); err != nil {
			t.Fatalf("event %d: data is not JSON: %v", e.Seq, err)
		}
		w.Data = b.Bytes()
	} else {
		w.Data = nil
	}
	return &w
}

// equalEvents fails the test unless the events are the same, by the
// measure of wantEvent.
func equalEvents(t *testing.T, what string, got, want []*deconflict.Event) {
	t.Helper()
	var g, w []*deconflict.Event
	for _, e := range got {
		g = append(g, wantEvent(t, e))
	}
	for _, e := range want {
		w = append(w, wantEvent(t, e))
	}
	equal(t, what, g, w)
	for _, e := range got {
		if e.Time.Location() != time.UTC {
			t.Errorf("%s: event %d time %s is not in UTC", what, e.Seq, fmtTime(e.Time))
		}
	}
}

func testEvents(t *testing.T, f Factory) {
	s := f.Open(t)
	if got := lastSeq(t, s); got != 0 {
		t.Errorf("LastSeq of a new store = %d, want 0", got)
	}
	if got := getEvents(t, s, 0, 10); len(got) != 0 {
		t.Errorf("Events of a new store: %d events, want none", len(got))
	}
	es := []*deconflict.Event{
		{Seq: 77, Type: deconflict.EventSettingsChanged, Time: at(0), Actor: deconflict.Actor{Role: deconflict.RoleAdmin}},
		{Type: deconflict.EventOperationDeclared, Time: at(1),
			Actor:    deconflict.Actor{Party: "alpha", Role: deconflict.RoleOperator, TokenID: "tok-1"},
			Subject:  &deconflict.Subject{Kind: "operation", ID: opID(1)},
			Audience: []string{"alpha", "bravo"},
			Data:     json.RawMessage(`{"operation": {"id": "x", "volumes": [1, 2.5, "ü"]}, "null": null}`)},
		{Type: deconflict.EventConflictOpened, Time: at(2), Actor: deconflict.Actor{Party: "bravo", Role: deconflict.RoleHead},
			Subject: &deconflict.Subject{}, Audience: []string{}, Data: json.RawMessage(`[]`)},
		{Type: deconflict.EventLineCheck, Time: at(3), Audience: []string{"charlie"}, Data: json.RawMessage(`"text"`)},
	}
	putAll(t, s, deconflict.Tx.AppendEvent, es[:1]...)
	putAll(t, s, deconflict.Tx.AppendEvent, es[1:]...)
	for i, e := range es {
		if e.Seq != int64(i+1) {
			t.Errorf("AppendEvent of event %d set Seq %d, want %d", i, e.Seq, i+1)
		}
	}
	if got := lastSeq(t, s); got != 4 {
		t.Errorf("LastSeq = %d, want 4", got)
	}
	equalEvents(t, "Events(0, 10)", getEvents(t, s, 0, 10), es)
	equalEvents(t, "Events(0, 0)", getEvents(t, s, 0, 0), es)
	equalEvents(t, "Events(1, 2)", getEvents(t, s, 1, 2), es[1:3])
	equalEvents(t, "Events(3, 10)", getEvents(t, s, 3, 10), es[3:])
	equalEvents(t, "Events(4, 10)", getEvents(t, s, 4, 10), nil)
	equalEvents(t, "Events(100, 10)", getEvents(t, s, 100, 10), nil)
}

func testEventsPaging(t *testing.T, f Factory) {
	s := f.Open(t)
	var es []*deconflict.Event
	for i := range 95 {
		es = append(es, &deconflict.Event{Type: deconflict.EventHotlineMessage, Time: at(i),
			Audience: []string{fmt.Sprint("p", i)}, Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))})
	}
	for i := 0; i < len(es); i += 10 {
		putAll(t, s, deconflict.Tx.AppendEvent, es[i:min(i+10, len(es))]...)
	}
	for _, limit := range []int{1, 7, 95, 100} {
		var got []*deconflict.Event
		for after := int64(0); ; {
			page := getEvents(t, s, after, limit)
			if len(page) > limit {
				t.Fatalf("Events(%d, %d): %d events", after, limit, len(page))
			}
			if len(page) == 0 {
				break
			}
			got = append(got, page...)
			after = page[len(page)-1].Seq
		}
		equalEvents(t, fmt.Sprint("Events by pages of ", limit), got, es)
	}
}

func testDefaultLimit(t *testing.T, f Factory) {
	s := f.Open(t)
	const n = 1001
	update(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		for i := range n {
			op := sparseOperation(i, "alpha", at(0), at(1))
			op.Volumes = nil
			if err := tx.PutOperation(ctx, op); err != nil {
				return err
			}
			c := newConflict(i, opID(i), opID(i+1), "alpha", "bravo", deconflict.ConflictOpen)
			if err := tx.PutConflict(ctx, c); err != nil {
				return err
			}
			if err := tx.AppendEvent(ctx, &deconflict.Event{Type: deconflict.EventLineCheck, Time: at(i)}); err != nil {
				return err
			}
			d := sparseDuty(i, "alpha", deconflict.Subject{Kind: "operation", ID: opID(i)})
			d.Level, d.DueAt = deconflict.LevelHeads, ptr(at(i))
			if err := tx.PutDuty(ctx, d); err != nil {
				return err
			}
			if err := tx.PutMessage(ctx, newMessage(i, "alpha", "bravo")); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		ops, next, err := tx.Operations(ctx, deconflict.OperationFilter{})
		if err != nil {
			t.Fatalf("Operations: %v", err)
		}
		if len(ops) != 1000 || next == "" {
			t.Errorf("Operations with Limit 0: %d operations, next %q; want 1000 and a cursor", len(ops), next)
		}
		cs, next, err := tx.Conflicts(ctx, deconflict.ConflictFilter{})
		if err != nil {
			t.Fatalf("Conflicts: %v", err)
		}
		if len(cs) != 1000 || next == "" {
			t.Errorf("Conflicts with Limit 0: %d conflicts, next %q; want 1000 and a cursor", len(cs), next)
		}
		es, err := tx.Events(ctx, 0, 0)
		if err != nil {
			t.Fatalf("Events: %v", err)
		}
		if len(es) != 1000 {
			t.Errorf("Events with limit 0: %d events, want 1000", len(es))
		}
		ds, next, err := tx.Duties(ctx, deconflict.DutyFilter{Party: "alpha", Escalated: true, Open: true})
		if err != nil {
			t.Fatalf("Duties: %v", err)
		}
		if len(ds) != 1000 || next == "" {
			t.Errorf("Duties with Limit 0: %d duties, next %q; want 1000 and a cursor", len(ds), next)
		}
		if ds, err = tx.DutiesDue(ctx, at(n), 0); err != nil {
			t.Fatalf("DutiesDue: %v", err)
		}
		if len(ds) != 1000 {
			t.Errorf("DutiesDue with limit 0: %d duties, want 1000", len(ds))
		}
		ms, next, err := tx.Messages(ctx, deconflict.MessageFilter{Party: "bravo"})
		if err != nil {
			t.Fatalf("Messages: %v", err)
		}
		if len(ms) != 1000 || next == "" {
			t.Errorf("Messages with Limit 0: %d messages, next %q; want 1000 and a cursor", len(ms), next)
		}
		return nil
	})
	if got := len(listOperations(t, s, deconflict.OperationFilter{})); got != n {
		t.Errorf("all pages of Operations: %d operations, want %d", got, n)
	}
	if got := len(listConflicts(t, s, deconflict.ConflictFilter{})); got != n {
		t.Errorf("all pages of Conflicts: %d conflicts, want %d", got, n)
	}
	if got := len(listDuties(t, s, deconflict.DutyFilter{})); got != n {
		t.Errorf("all pages of Duties: %d duties, want %d", got, n)
	}
	if got := len(listMessages(t, s, deconflict.MessageFilter{})); got != n {
		t.Errorf("all pages of Messages: %d messages, want %d", got, n)
	}
}
