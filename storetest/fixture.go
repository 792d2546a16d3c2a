package storetest

import (
	"fmt"
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
					{Lat: ptr(-0.0), Lng: ptr(179.999999999)},
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

func wantOperations(ops []*deconflict.Operation) []*deconflict.Operation {
	var ws []*deconflict.Operation
	for _, op := range ops {
		ws = append(ws, wantOperation(op))
	}
	return ws
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

func wantConflicts(cs []*deconflict.Conflict) []*deconflict.Conflict {
	var ws []*deconflict.Conflict
	for _, c := range cs {
		ws = append(ws, wantConflict(c))
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
