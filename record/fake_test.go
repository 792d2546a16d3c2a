package record

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
)

// fakeTx keeps events and log hashes in memory. Only the methods the
// package uses are implemented; any other panics (nil embedded Tx).
type fakeTx struct {
	dc.Tx
	hashes map[int64][32]byte
	events []*dc.Event
}

func newFakeTx() *fakeTx { return &fakeTx{hashes: map[int64][32]byte{}} }

func (f *fakeTx) PutLogHashes(_ context.Context, start int64, hashes [][32]byte) error {
	for i := range hashes {
		if _, ok := f.hashes[start+int64(i)]; ok {
			return dc.Errorf(dc.EExists, "log hash %d exists", start+int64(i))
		}
	}
	for i, h := range hashes {
		f.hashes[start+int64(i)] = h
	}
	return nil
}

func (f *fakeTx) LogHashes(_ context.Context, indexes []int64) ([][32]byte, error) {
	out := make([][32]byte, len(indexes))
	for i, x := range indexes {
		h, ok := f.hashes[x]
		if !ok {
			return nil, dc.Errorf(dc.ENotFound, "no log hash %d", x)
		}
		out[i] = h
	}
	return out, nil
}

func (f *fakeTx) Events(_ context.Context, after int64, limit int) ([]*dc.Event, error) {
	if limit <= 0 {
		limit = 1000
	}
	var out []*dc.Event
	for _, e := range f.events {
		if e.Seq > after && len(out) < limit {
			c := *e
			out = append(out, &c)
		}
	}
	return out, nil
}

func (f *fakeTx) LastSeq(context.Context) (int64, error) { return int64(len(f.events)), nil }

// pending is an event not yet appended, and its body.
type pending struct {
	e    *dc.Event
	data any
}

// put appends a pending event.
func (f *fakeTx) put(t testing.TB, p pending) *dc.Event {
	t.Helper()
	return f.add(t, p.e, p.data)
}

// add appends an event with body data and logs it, as the mechanism does.
func (f *fakeTx) add(t testing.TB, e *dc.Event, data any) *dc.Event {
	t.Helper()
	log := Append
	if data != nil {
		b, err := json.Marshal(data)
		if err != nil {
			t.Fatal(err)
		}
		e.Data = b
		log = AppendMarshalled // as the mechanism logs
	}
	e.Seq = int64(len(f.events)) + 1
	f.events = append(f.events, e)
	if err := log(context.Background(), f, e); err != nil {
		t.Fatalf("Append(%d): %v", e.Seq, err)
	}
	return e
}

// The scenario: alpha declares operation opA; bravo acknowledges; bravo's
// operation opB conflicts with it; escalations, hotline messages, an
// update at short notice, a waiver by both heads, and unrelated events of
// charlie around them.
const (
	opA = "0b7e6a1c-0000-4000-8000-00000000000a"
	opB = "0b7e6a1c-0000-4000-8000-00000000000b"
	opX = "0b7e6a1c-0000-4000-8000-00000000000c"
	c1  = "c0000000-0000-4000-8000-000000000001"
	c2  = "c0000000-0000-4000-8000-000000000002"
	m1  = "d0000000-0000-4000-8000-000000000001"
	m2  = "d0000000-0000-4000-8000-000000000002"
	m3  = "d0000000-0000-4000-8000-000000000003"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func ptr[T any](v T) *T { return &v }

func operation(id, party string, version int, state dc.State, start time.Time) *dc.Operation {
	vol := func(s time.Time) dc.Volume4D {
		return dc.Volume4D{
			Volume: dc.Volume3D{
				OutlineCircle: &dc.Circle{Center: &dc.LatLng{Lat: dc.Float(33.5), Lng: dc.Float(36.3)},
					Radius: &dc.Measure{Value: dc.Float(5000), Units: "M"}},
				AltitudeLower: &dc.Altitude{Value: dc.Float(0), Reference: "W84", Units: "M"},
				AltitudeUpper: &dc.Altitude{Value: dc.Float(3000), Reference: "W84", Units: "M"},
			},
			TimeStart: &dc.Time{Value: s.Format(time.RFC3339), Format: "RFC3339"},
			TimeEnd:   &dc.Time{Value: s.Add(time.Hour).Format(time.RFC3339), Format: "RFC3339"},
		}
	}
	return &dc.Operation{ID: id, Party: party, Version: version, State: state,
		Volumes:   []dc.Volume4D{vol(start.Add(30 * time.Minute)), vol(start)},
		CreatedAt: t0, UpdatedAt: t0}
}

func opEvent(typ string, actor dc.Actor, when time.Time, op *dc.Operation) pending {
	return pending{&dc.Event{Type: typ, Time: when, Actor: actor, Subject: &dc.Subject{Kind: "operation", ID: op.ID}}, map[string]any{"operation": op}}
}

func conflictEvent(typ string, actor dc.Actor, when time.Time, c *dc.Conflict) pending {
	cp := *c
	cp.Acknowledged, cp.Waived = map[string]*time.Time{}, map[string]*time.Time{}
	for k, v := range c.Acknowledged {
		cp.Acknowledged[k] = v
	}
	for k, v := range c.Waived {
		cp.Waived[k] = v
	}
	return pending{&dc.Event{Type: typ, Time: when, Actor: actor, Subject: &dc.Subject{Kind: "conflict", ID: c.ID},
		Audience: []string{c.Parties[0], c.Parties[1]}}, map[string]any{"conflict": &cp}}
}

func escalationEvent(typ string, when time.Time, subject dc.Subject, party string, level int, reason string) pending {
	d := &dc.Duty{ID: subject.Kind + ":" + subject.ID + ":" + party, Subject: subject, Party: party, Level: level, RaisedAt: ptr(when)}
	var aud []string
	if level < dc.LevelAll {
		aud = []string{party}
	}
	return pending{&dc.Event{Type: typ, Time: when, Actor: dc.Actor{Role: "system"}, Subject: &dc.Subject{Kind: "escalation", ID: d.ID},
		Audience: aud}, map[string]any{"escalation": d, "reason": reason}}
}

func messageEvent(typ string, actor dc.Actor, when time.Time, m *dc.Message) pending {
	return pending{&dc.Event{Type: typ, Time: when, Actor: actor, Subject: &dc.Subject{Kind: "message", ID: m.ID},
		Audience: append([]string{m.From.Party}, m.To...)}, map[string]any{"message": m}}
}

var (
	alphaOp    = dc.Actor{Party: "alpha", Role: dc.RoleOperator, TokenID: "tok-a"}
	alphaHead  = dc.Actor{Party: "alpha", Role: dc.RoleHead}
	alphaLO    = dc.Actor{Party: "alpha", Role: dc.RoleLiaison}
	bravoLO    = dc.Actor{Party: "bravo", Role: dc.RoleLiaison}
	bravoOp    = dc.Actor{Party: "bravo", Role: dc.RoleOperator}
	bravoHead  = dc.Actor{Party: "bravo", Role: dc.RoleHead}
	charlieOp  = dc.Actor{Party: "charlie", Role: dc.RoleOperator}
	charlieLO  = dc.Actor{Party: "charlie", Role: dc.RoleLiaison}
	adminActor = dc.Actor{Role: dc.RoleAdmin}
)

// scenario fills a fake log and returns it.
func scenario(t testing.TB) *fakeTx {
	f := newFakeTx()
	for _, p := range []string{"alpha", "bravo", "charlie"} {
		f.add(t, &dc.Event{Type: dc.EventPartyAdded, Time: t0.Add(-time.Hour), Actor: adminActor,
			Subject: &dc.Subject{Kind: "party", ID: p}}, map[string]any{"party": map[string]string{"id": p}})
	}
	// alpha declares opA, first volume at 12:00 (2h lead).
	f.put(t, opEvent(dc.EventOperationDeclared, alphaOp, at(0), operation(opA, "alpha", 1, dc.StatePlanned, at(2*time.Hour))))
	// charlie declares opX (unrelated).
	f.put(t, opEvent(dc.EventOperationDeclared, charlieOp, at(time.Minute), operation(opX, "charlie", 1, dc.StatePlanned, at(5*time.Hour))))
	// bravo acknowledges opA v1 at 10:05.
	f.add(t, &dc.Event{Type: dc.EventOperationReceipt, Time: at(5 * time.Minute), Actor: bravoLO,
		Subject: &dc.Subject{Kind: "operation", ID: opA}, Audience: []string{"alpha", "bravo"}},
		map[string]any{"receipt": map[string]any{"operation": opA, "party": "bravo", "version": 1, "at": at(5 * time.Minute).Format(time.RFC3339Nano)}})
	// bravo declares opB at short notice, then its notice.short.
	f.put(t, opEvent(dc.EventOperationDeclared, bravoOp, at(10*time.Minute), operation(opB, "bravo", 1, dc.StatePlanned, at(20*time.Minute))))
	f.add(t, &dc.Event{Type: dc.EventNoticeShort, Time: at(10 * time.Minute), Actor: bravoOp, Subject: &dc.Subject{Kind: "operation", ID: opB}},
		map[string]any{"operation": opB, "party": "bravo", "lead_time_s": 600.0, "notice_s": 3600.0})
	// conflict c1 between opA and opB.
	conf := &dc.Conflict{ID: c1, Status: dc.ConflictOpen, Operations: [2]string{opA, opB}, Parties: [2]string{"alpha", "bravo"},
		DetectedAt: at(10 * time.Minute), Separation: dc.Separation{HorizontalM: 0, VerticalM: -3000, TimeS: -600},
		Acknowledged: map[string]*time.Time{"alpha": nil, "bravo": nil}, Waived: map[string]*time.Time{"alpha": nil, "bravo": nil}}
	f.put(t, conflictEvent(dc.EventConflictOpened, bravoOp, at(10*time.Minute), conf))
	// bravo's duty about c1 escalates to its heads.
	f.put(t, escalationEvent(dc.EventEscalationRaised, at(25*time.Minute), dc.Subject{Kind: "conflict", ID: c1}, "bravo", 1, "not acknowledged within ack_timeout_s"))
	// alpha writes to bravo about c1; bravo writes to charlie about c1.
	msg1 := &dc.Message{ID: m1, Kind: dc.KindMessage, From: alphaLO, To: []string{"bravo"}, Text: "Your opB overlaps our opA, please move it.",
		Urgency: dc.UrgencyUrgent, Subject: &dc.Subject{Kind: "conflict", ID: c1}, SentAt: at(26 * time.Minute),
		Acknowledged: map[string]*time.Time{"bravo": nil}}
	f.put(t, messageEvent(dc.EventHotlineMessage, alphaLO, at(26*time.Minute), msg1))
	msg2 := &dc.Message{ID: m2, Kind: dc.KindMessage, From: bravoLO, To: []string{"charlie"}, Text: "FYI conflict with alpha.",
		Urgency: dc.UrgencyRoutine, Subject: &dc.Subject{Kind: "conflict", ID: c1}, SentAt: at(27 * time.Minute),
		Acknowledged: map[string]*time.Time{"charlie": nil}}
	f.put(t, messageEvent(dc.EventHotlineMessage, bravoLO, at(27*time.Minute), msg2))
	// bravo acknowledges m1 and c1; its escalation clears.
	msg1.Acknowledged["bravo"] = ptr(at(28 * time.Minute))
	f.put(t, messageEvent(dc.EventHotlineAcked, bravoLO, at(28*time.Minute), msg1))
	conf.Acknowledged["bravo"] = ptr(at(29 * time.Minute))
	f.put(t, conflictEvent(dc.EventConflictAcked, bravoLO, at(29*time.Minute), conf))
	f.put(t, escalationEvent(dc.EventEscalationCleared, at(29*time.Minute), dc.Subject{Kind: "conflict", ID: c1}, "bravo", 1, ""))
	// alpha moves opA earlier (v2, first volume at 11:10), then short notice.
	f.put(t, opEvent(dc.EventOperationUpdated, alphaOp, at(30*time.Minute), operation(opA, "alpha", 2, dc.StatePlanned, at(70*time.Minute))))
	f.add(t, &dc.Event{Type: dc.EventNoticeShort, Time: at(30 * time.Minute), Actor: alphaOp, Subject: &dc.Subject{Kind: "operation", ID: opA}},
		map[string]any{"operation": opA, "party": "alpha", "lead_time_s": 2400.0, "notice_s": 3600.0})
	// bravo's duty about opA v2 goes to everyone's heads.
	f.put(t, escalationEvent(dc.EventEscalationRaised, at(31*time.Minute), dc.Subject{Kind: "operation", ID: opA}, "bravo", 2, "short notice"))
	// both heads waive c1.
	conf.Waived["alpha"], conf.Acknowledged["alpha"] = ptr(at(35*time.Minute)), ptr(at(35*time.Minute))
	f.put(t, conflictEvent(dc.EventConflictWaived, alphaHead, at(35*time.Minute), conf))
	conf.Waived["bravo"] = ptr(at(36 * time.Minute))
	conf.Status, conf.ClosedAt = dc.ConflictWaived, ptr(at(36*time.Minute))
	f.put(t, conflictEvent(dc.EventConflictWaived, bravoHead, at(36*time.Minute), conf))
	// charlie acknowledges opA v2 at 10:40.
	f.add(t, &dc.Event{Type: dc.EventOperationReceipt, Time: at(40 * time.Minute), Actor: charlieLO,
		Subject: &dc.Subject{Kind: "operation", ID: opA}, Audience: []string{"alpha", "charlie"}},
		map[string]any{"receipt": map[string]any{"operation": opA, "party": "charlie", "version": 2, "at": at(40 * time.Minute).Format(time.RFC3339Nano)}})
	// a line check (no subject), an unrelated conflict and its escalation.
	lc := &dc.Message{ID: m3, Kind: dc.KindLineCheck, From: charlieLO, To: []string{"alpha", "bravo"}, Text: "Line check: please acknowledge.",
		Urgency: dc.UrgencyRoutine, SentAt: at(41 * time.Minute)}
	f.put(t, messageEvent(dc.EventLineCheck, charlieLO, at(41*time.Minute), lc))
	other := &dc.Conflict{ID: c2, Status: dc.ConflictOpen, Operations: [2]string{opB, opX}, Parties: [2]string{"bravo", "charlie"},
		DetectedAt: at(42 * time.Minute), Acknowledged: map[string]*time.Time{}, Waived: map[string]*time.Time{}}
	f.put(t, conflictEvent(dc.EventConflictOpened, charlieOp, at(42*time.Minute), other))
	f.put(t, escalationEvent(dc.EventEscalationRaised, at(50*time.Minute), dc.Subject{Kind: "conflict", ID: c2}, "bravo", 2, "not acknowledged"))
	// bravo cancels opB.
	f.put(t, opEvent(dc.EventOperationCancelled, bravoOp, at(55*time.Minute), operation(opB, "bravo", 2, dc.StateCancelled, at(20*time.Minute))))
	return f
}

// The log indexes of the scenario's entries about opA.
var aboutA = []int64{3, 5, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}

func viewer(a dc.Actor) func(*dc.Event) bool { return func(e *dc.Event) bool { return e.VisibleTo(a) } }

// admin sees every entry of the log (an observer sees those of every party
// and its own party's, like any member of it).
var admin = dc.Actor{Role: dc.RoleAdmin}
