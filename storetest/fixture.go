package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/deconflict/deconflict"
)

// zone is where the fixtures' times are given: not UTC, so that a store
// that keeps the zone, rather than returning UTC, fails.
var zone = time.FixedZone("UTC+3", 3*60*60)

// at returns a time, to the microsecond, some minutes after a fixed
// instant, in zone.
func at(minutes int) time.Time {
	return time.Date(2026, 11, 25, 15, 0, 0, 123456000, zone).Add(time.Duration(minutes) * time.Minute)
}

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }

// opID returns the n-th operation ID: a valid UUID, with IDs not in the
// order of n, so that a store listing by ID rather than by first storage
// fails.
func opID(n int) string {
	return fmt.Sprintf("%08x-0000-4000-8000-%012d", uint32(n)*2654435761, n)
}

// conflictID returns the n-th conflict ID, not in the order of n.
func conflictID(n int) string {
	return fmt.Sprintf("%08x-1111-4000-8000-%012d", uint32(n)*2246822519, n)
}

// newOperation returns an operation with every field set: a polygon
// volume, a circle volume, callsign and notes.
func newOperation(n int, party string, state deconflict.State, start, end time.Time, rev int64) *deconflict.Operation {
	return &deconflict.Operation{
		ID:            opID(n),
		Party:         party,
		Version:       1 + n%3,
		State:         state,
		Priority:      n % 5,
		Callsign:      ptr(fmt.Sprintf("VIPER %d", n)),
		ShareCallsign: n%2 == 0,
		Notes:         ptr("private notes: «ünïcode», \"quotes\", \\ and \n newline"),
		Volumes:       volumes(start, end),
		CreatedAt:     start.Add(-time.Hour),
		UpdatedAt:     start.Add(-30 * time.Minute),
		Start:         start,
		End:           end,
		Rev:           rev,
	}
}

// volumes returns two volumes, a polygon and a circle, from start to end.
func volumes(start, end time.Time) []deconflict.Volume4D {
	mid := start.Add(end.Sub(start) / 2)
	return []deconflict.Volume4D{
		{
			Volume: deconflict.Volume3D{
				OutlinePolygon: &deconflict.Polygon{Vertices: []deconflict.LatLng{
					{Lat: ptr(33.5), Lng: ptr(36.3)},
					{Lat: ptr(33.6), Lng: ptr(36.3)},
					{Lat: ptr(33.6), Lng: ptr(36.45)},
					{Lat: ptr(math.Copysign(0, -1)), Lng: ptr(179.999999999)}, // negative zero
				}},
				AltitudeLower: &deconflict.Altitude{Value: ptr(1000.0), Reference: "W84", Units: "M"},
				AltitudeUpper: &deconflict.Altitude{Value: ptr(3000.5), Reference: "W84", Units: "FT"},
			},
			TimeStart: &deconflict.Time{Value: start.UTC().Format(time.RFC3339Nano), Format: "RFC3339"},
			TimeEnd:   &deconflict.Time{Value: mid.UTC().Format(time.RFC3339Nano), Format: "RFC3339"},
		},
		{
			Volume: deconflict.Volume3D{
				OutlineCircle: &deconflict.Circle{
					Center: &deconflict.LatLng{Lat: ptr(33.55), Lng: ptr(36.35)},
					Radius: &deconflict.Measure{Value: ptr(5000.25), Units: "M"},
				},
				AltitudeLower: &deconflict.Altitude{Value: ptr(-8000.0), Reference: "W84", Units: "M"},
				AltitudeUpper: &deconflict.Altitude{Value: ptr(100000.0), Reference: "W84", Units: "M"},
			},
			TimeStart: &deconflict.Time{Value: mid.UTC().Format(time.RFC3339Nano), Format: "RFC3339"},
			TimeEnd:   &deconflict.Time{Value: end.UTC().Format(time.RFC3339Nano), Format: "RFC3339"},
		},
	}
}

// sparseOperation returns an operation with every optional field unset:
// no callsign, no notes, and volumes with nil pointers where the wire form
// allows them to be missing.
func sparseOperation(n int, party string, start, end time.Time) *deconflict.Operation {
	return &deconflict.Operation{
		ID:    opID(n),
		Party: party,
		State: deconflict.StatePlanned,
		Volumes: []deconflict.Volume4D{
			{},
			{Volume: deconflict.Volume3D{
				OutlineCircle: &deconflict.Circle{},
				AltitudeLower: &deconflict.Altitude{},
			}},
			{Volume: deconflict.Volume3D{
				OutlinePolygon: &deconflict.Polygon{Vertices: []deconflict.LatLng{{Lat: ptr(0.0)}, {}}},
			}},
		},
		CreatedAt: start,
		UpdatedAt: start,
		Start:     start,
		End:       end,
	}
}

// newConflict returns an open conflict of two operations of two parties,
// with every field set.
func newConflict(n int, op1, op2, party1, party2 string, status deconflict.ConflictStatus) *deconflict.Conflict {
	detected := at(n)
	c := &deconflict.Conflict{
		ID:         conflictID(n),
		Status:     status,
		Operations: [2]string{op1, op2},
		Parties:    [2]string{party1, party2},
		DetectedAt: detected,
		Separation: deconflict.Separation{HorizontalM: 0, VerticalM: -2000.125, TimeS: -3600.5},
		Acknowledged: map[string]*time.Time{
			party1: nil,
			party2: ptr(detected.Add(2 * time.Minute)),
		},
		Waived:    map[string]*time.Time{party1: nil, party2: nil},
		UpdatedAt: detected.Add(3 * time.Minute),
	}
	if status != deconflict.ConflictOpen {
		c.ClosedAt = ptr(detected.Add(10 * time.Minute))
	}
	return c
}

// The wanted forms of records: what a store returns for what it was given,
// with every time in UTC.

func wantParty(p *deconflict.Party) *deconflict.Party {
	w := *p
	w.CreatedAt = p.CreatedAt.UTC()
	return &w
}

func wantToken(tok *deconflict.Token) *deconflict.Token {
	w := *tok
	w.CreatedAt = tok.CreatedAt.UTC()
	w.RevokedAt = utcPtr(tok.RevokedAt)
	return &w
}

func wantOperation(op *deconflict.Operation) *deconflict.Operation {
	w := *op
	w.CreatedAt = op.CreatedAt.UTC()
	w.UpdatedAt = op.UpdatedAt.UTC()
	w.Start = op.Start.UTC()
	w.End = op.End.UTC()
	return &w
}

func wantConflict(c *deconflict.Conflict) *deconflict.Conflict {
	w := *c
	w.DetectedAt = c.DetectedAt.UTC()
	w.ClosedAt = utcPtr(c.ClosedAt)
	w.UpdatedAt = c.UpdatedAt.UTC()
	w.Acknowledged = utcMap(c.Acknowledged)
	w.Waived = utcMap(c.Waived)
	return &w
}

// wantAll returns the records as a store returns them, each as want
// gives it; nil for none.
func wantAll[T any](want func(T) T, vs []T) []T {
	var ws []T
	for _, v := range vs {
		ws = append(ws, want(v))
	}
	return ws
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	return ptr(t.UTC())
}

func utcMap(m map[string]*time.Time) map[string]*time.Time {
	if m == nil {
		return nil
	}
	w := make(map[string]*time.Time, len(m))
	for k, v := range m {
		w[k] = utcPtr(v)
	}
	return w
}

// dutyID returns the n-th duty ID, not in the order of n.
func dutyID(n int) string {
	return fmt.Sprintf("duty-%08x-%d", uint32(n)*2654435761, n)
}

// messageID returns the n-th message ID, not in the order of n.
func messageID(n int) string {
	return fmt.Sprintf("%08x-2222-4000-8000-%012d", uint32(n)*2246822519, n)
}

// newDuty returns an escalated, since acknowledged duty with every field
// set.
func newDuty(n int, party string, subject deconflict.Subject) *deconflict.Duty {
	created := at(n)
	return &deconflict.Duty{
		ID:        dutyID(n),
		Subject:   subject,
		Version:   1 + n%5,
		Party:     party,
		Level:     deconflict.LevelHeads,
		CreatedAt: created,
		DueAt:     ptr(created.Add(10 * time.Minute)),
		AckedAt:   ptr(created.Add(7 * time.Minute)),
		RaisedAt:  ptr(created.Add(5 * time.Minute)),
		ClearedAt: ptr(created.Add(7*time.Minute + time.Microsecond)),
	}
}

// sparseDuty returns a duty with every optional field unset.
func sparseDuty(n int, party string, subject deconflict.Subject) *deconflict.Duty {
	return &deconflict.Duty{ID: dutyID(n), Subject: subject, Party: party, CreatedAt: at(n)}
}

// newMessage returns an urgent hotline message about an operation, with
// every field set, acknowledged by the first addressee only.
func newMessage(n int, from string, to ...string) *deconflict.Message {
	sent := at(n)
	m := &deconflict.Message{
		ID:           messageID(n),
		Kind:         deconflict.KindMessage,
		From:         deconflict.Actor{Party: from, Role: deconflict.RoleHead, TokenID: fmt.Sprint("tok-", n)},
		To:           to,
		Text:         fmt.Sprintf("message %d: «ünïcode», \"quotes\", \\ and \n newline", n),
		Urgency:      deconflict.UrgencyUrgent,
		Subject:      &deconflict.Subject{Kind: "operation", ID: opID(n)},
		SentAt:       sent,
		Acknowledged: map[string]*time.Time{},
	}
	for i, p := range to {
		m.Acknowledged[p] = nil
		if i == 0 {
			m.Acknowledged[p] = ptr(sent.Add(time.Minute))
		}
	}
	return m
}

// newWebhook returns a webhook with every field set, failing deliveries.
func newWebhook(party, name string, n int) *deconflict.Webhook {
	created := at(n)
	return &deconflict.Webhook{
		Party:     party,
		Name:      name,
		URL:       fmt.Sprintf("https://%s.example/hooks/%s?n=%d&x=%%20", party, name, n),
		Events:    []string{deconflict.EventConflictOpened, deconflict.EventEscalationRaised},
		Secret:    fmt.Sprintf("whsec_c2VjcmV0IG9mIHdlYmhvb2sg%d", n),
		CreatedAt: created,
		UpdatedAt: created.Add(time.Minute),
		Delivery:  newDelivery(n),
	}
}

// newDelivery returns a delivery state with every field set.
func newDelivery(n int) deconflict.Delivery {
	return deconflict.Delivery{
		DeliveredSeq: int64(100 + n),
		Attempts:     3 + n,
		LastAttempt:  ptr(at(n + 10)),
		LastStatus:   503,
		LastError:    fmt.Sprintf("HTTP 503 «unavailable» %d", n),
		NextAttempt:  ptr(at(n + 12)),
		FailingSince: ptr(at(n + 2)),
		Delivered:    int64(1000 + n),
	}
}

func wantDuty(d *deconflict.Duty) *deconflict.Duty {
	w := *d
	w.CreatedAt = d.CreatedAt.UTC()
	w.DueAt = utcPtr(d.DueAt)
	w.AckedAt = utcPtr(d.AckedAt)
	w.RaisedAt = utcPtr(d.RaisedAt)
	w.ClearedAt = utcPtr(d.ClearedAt)
	return &w
}

func wantMessage(m *deconflict.Message) *deconflict.Message {
	w := *m
	w.To = slices.Clone(m.To)
	if m.Subject != nil {
		s := *m.Subject
		w.Subject = &s
	}
	w.SentAt = m.SentAt.UTC()
	w.Acknowledged = utcMap(m.Acknowledged)
	return &w
}

func wantWebhook(wh *deconflict.Webhook) *deconflict.Webhook {
	w := *wh
	w.Events = slices.Clone(wh.Events)
	w.CreatedAt = wh.CreatedAt.UTC()
	w.UpdatedAt = wh.UpdatedAt.UTC()
	w.Delivery = wantDelivery(wh.Delivery)
	return &w
}

func wantDelivery(d deconflict.Delivery) deconflict.Delivery {
	d.LastAttempt = utcPtr(d.LastAttempt)
	d.NextAttempt = utcPtr(d.NextAttempt)
	d.FailingSince = utcPtr(d.FailingSince)
	return d
}

// populate stores a little of everything.
func populate(t *testing.T, s deconflict.Store) {
	t.Helper()
	update(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		for i, id := range []string{"alpha", "bravo", "charlie"} {
			if err := tx.CreateParty(ctx, &deconflict.Party{ID: id, Name: strings.ToUpper(id), CreatedAt: at(i)}); err != nil {
				return err
			}
			tok := &deconflict.Token{ID: "tok-" + id, Hash: []byte("hash of " + id), Role: deconflict.RoleHead, Party: id, CreatedAt: at(i)}
			if i == 2 {
				tok.RevokedAt = ptr(at(9))
			}
			if err := tx.CreateToken(ctx, tok); err != nil {
				return err
			}
		}
		if err := tx.PutSettings(ctx, deconflict.Settings{HorizontalM: 1, VerticalM: 2, TimeS: 3, NoticeS: 4, AckTimeoutS: 5}); err != nil {
			return err
		}
		for i := range 6 {
			op := newOperation(i, []string{"alpha", "bravo", "charlie"}[i%3], deconflict.StatePlanned, at(10*i), at(10*i+30), int64(i+1))
			if i == 4 {
				op = sparseOperation(i, "bravo", at(0), at(1))
			}
			if err := tx.PutOperation(ctx, op); err != nil {
				return err
			}
		}
		for i, p := range [][2]int{{0, 1}, {1, 2}, {2, 0}} {
			c := newConflict(i, opID(p[0]), opID(p[1]), "alpha", "bravo", deconflict.ConflictOpen)
			if err := tx.PutConflict(ctx, c); err != nil {
				return err
			}
		}
		for i := range 4 {
			d := newDuty(i, []string{"alpha", "bravo"}[i%2], deconflict.Subject{Kind: "operation", ID: opID(i)})
			if i%2 == 0 {
				d = sparseDuty(i, "charlie", deconflict.Subject{Kind: "conflict", ID: conflictID(i)})
			}
			if err := tx.PutDuty(ctx, d); err != nil {
				return err
			}
			if err := tx.PutMessage(ctx, newMessage(i, "alpha", "bravo", "charlie")); err != nil {
				return err
			}
			if err := tx.PutWebhook(ctx, newWebhook([]string{"alpha", "bravo"}[i%2], fmt.Sprint("hook-", i), i)); err != nil {
				return err
			}
		}
		if err := tx.PutLogHashes(ctx, 0, logHashes(0, 7)); err != nil {
			return err
		}
		k := newKey("zulu.example", 1)
		k.RetiredAt = ptr(at(2))
		if err := tx.PutKey(ctx, k); err != nil {
			return err
		}
		if err := tx.PutKey(ctx, newKey("alpha.example", 2)); err != nil {
			return err
		}
		for i := range 5 {
			e := &deconflict.Event{Type: deconflict.EventOperationDeclared, Time: at(i), Audience: []string{"alpha"},
				Subject: &deconflict.Subject{Kind: "operation", ID: opID(i)}, Data: json.RawMessage(`{"i":1}`)}
			if err := tx.AppendEvent(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
}

// writeEverything changes every kind of record in tx.
func writeEverything(ctx context.Context, tx deconflict.Tx) error {
	if err := tx.CreateParty(ctx, &deconflict.Party{ID: "zulu", CreatedAt: at(0)}); err != nil {
		return err
	}
	if err := tx.CreateToken(ctx, &deconflict.Token{ID: "tok-zulu", Hash: []byte("zulu"), Role: deconflict.RoleAdmin, CreatedAt: at(0)}); err != nil {
		return err
	}
	if err := tx.PutSettings(ctx, deconflict.Settings{HorizontalM: 99}); err != nil {
		return err
	}
	for _, n := range []int{0, 50} { // a replace and an insert
		if err := tx.PutOperation(ctx, newOperation(n, "zulu", deconflict.StateCancelled, at(0), at(1), 99)); err != nil {
			return err
		}
	}
	for _, n := range []int{0, 50} {
		if err := tx.PutConflict(ctx, newConflict(n, opID(50+n), opID(51+n), "zulu", "alpha", deconflict.ConflictWaived)); err != nil {
			return err
		}
	}
	for _, n := range []int{0, 50} {
		if err := tx.PutDuty(ctx, newDuty(n, "zulu", deconflict.Subject{Kind: "message", ID: "zulu"})); err != nil {
			return err
		}
		if err := tx.PutMessage(ctx, newMessage(n, "zulu", "alpha", "yankee")); err != nil {
			return err
		}
		if err := tx.PutWebhook(ctx, newWebhook([]string{"alpha", "zulu"}[n%2], fmt.Sprint("hook-", n), n+7)); err != nil {
			return err
		}
	}
	if err := tx.PutDelivery(ctx, "alpha", "hook-0", newDelivery(77)); err != nil {
		return err
	}
	if err := tx.PutWebhook(ctx, newWebhook("zulu", "gone", 1)); err != nil {
		return err
	}
	if err := tx.DeleteWebhook(ctx, "zulu", "gone"); err != nil {
		return err
	}
	if err := tx.PutLogHashes(ctx, 7, logHashes(7, 3)); err != nil {
		return err
	}
	for _, k := range []*deconflict.SigningKey{newKey("xray.example", 30), newKey("zulu.example", 31)} {
		if err := tx.PutKey(ctx, k); err != nil {
			return err
		}
	}
	return tx.AppendEvent(ctx, &deconflict.Event{Type: deconflict.EventPartyAdded, Time: at(0)})
}
