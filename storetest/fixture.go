package storetest

import (
	"fmt"
	"math"
	"slices"
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
