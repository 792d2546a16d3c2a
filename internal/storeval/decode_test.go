package storeval

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/deconflict/deconflict"
)

// TestDecodeDocAsEncodingJSON checks that the documents the stores keep
// decode as encoding/json decodes them: written compactly (SQLite), with
// white space and keys in another order (PostgreSQL's jsonb), and in
// forms encoding/json also takes (other case, nulls, unknown names).
func TestDecodeDocAsEncodingJSON(t *testing.T) {
	at := time.Date(2026, 11, 25, 12, 0, 0, 123456000, time.UTC)
	later := at.Add(90 * time.Minute)
	callsign, notes := "FOX1 \"é\" <&>", "line\nbreak \u2028"
	op := &deconflict.Operation{
		ID: "0d6c2d6e-6c39-4f4e-9b0e-4a7d7f0e1c11", Party: "alpha", Version: 3, State: deconflict.StateActive, Priority: -2,
		Callsign: &callsign, ShareCallsign: true, Notes: &notes, CreatedAt: at, UpdatedAt: later,
		Volumes: []deconflict.Volume4D{{
			Volume: deconflict.Volume3D{
				OutlinePolygon: &deconflict.Polygon{Vertices: []deconflict.LatLng{
					{Lat: deconflict.Float(33.5), Lng: deconflict.Float(36.3)}, {Lat: deconflict.Float(math.Copysign(0, -1)), Lng: deconflict.Float(1e-7)}, {Lat: deconflict.Float(33.6), Lng: deconflict.Float(36.45)}}},
				AltitudeLower: &deconflict.Altitude{Value: deconflict.Float(1000), Reference: "W84", Units: "FT"},
				AltitudeUpper: &deconflict.Altitude{Value: deconflict.Float(3000.25), Reference: "W84", Units: "M"},
			},
			TimeStart: &deconflict.Time{Value: "2026-11-25T12:00:00Z", Format: "RFC3339"},
			TimeEnd:   &deconflict.Time{Value: "2026-11-25T13:30:00+02:00", Format: "RFC3339"},
		}, {
			Volume: deconflict.Volume3D{OutlineCircle: &deconflict.Circle{Center: &deconflict.LatLng{Lat: deconflict.Float(1), Lng: deconflict.Float(2)}, Radius: &deconflict.Measure{Value: deconflict.Float(5000), Units: "M"}}},
		}},
	}
	c := &deconflict.Conflict{
		ID: "5f1c9b1e-2d3a-5b6c-8d9e-0f1a2b3c4d5e", Status: deconflict.ConflictWaived,
		Operations: [2]string{op.ID, "9a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"}, Parties: [2]string{"alpha", "bravo"},
		DetectedAt: at, ClosedAt: &later, Separation: deconflict.Separation{HorizontalM: 1234.5678, VerticalM: -200, TimeS: -3600},
		Acknowledged: map[string]*time.Time{"alpha": nil, "bravo": &at}, Waived: map[string]*time.Time{"alpha": &later, "bravo": &later},
		UpdatedAt: later, FoundLate: map[string]time.Time{"alpha": at},
	}
	m := &deconflict.Message{ID: "m1", Kind: deconflict.KindMessage, From: deconflict.Actor{Party: "alpha", Role: deconflict.RoleHead},
		To: []string{"bravo"}, Text: "hello", Urgency: "urgent", Subject: &deconflict.Subject{Kind: "operation", ID: op.ID},
		SentAt: at, Acknowledged: map[string]*time.Time{"bravo": nil}}
	var docs []string
	for _, v := range []any{op, c, m, []string{"alpha", "bravo"}, []string{}} {
		compact, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		indented, err := json.MarshalIndent(v, " ", "  ")
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(compact), string(indented))
	}
	docs = append(docs,
		`{"ID":"x","PARTY":"alpha","unknown":{"a":[1,2]},"callsign":null,"volumes":null}`,
		`{"id":"c","acknowledged":{"alpha":null},"waived":null,"separation":{"horizontal_m":1e3}}`,
		`{"created_at":"2026-11-25T14:00:00.5+02:00","updated_at":"2026-11-25T12:00:00Z","priority":7}`,
		`null`, `["a","a"]`)
	for _, doc := range docs {
		for _, typ := range []reflect.Type{reflect.TypeFor[deconflict.Operation](), reflect.TypeFor[deconflict.Conflict](),
			reflect.TypeFor[deconflict.Message](), reflect.TypeFor[[]string]()} {
			want, got := reflect.New(typ), reflect.New(typ)
			errWant := json.Unmarshal([]byte(doc), want.Interface())
			errGot := decodeDoc(doc, got.Interface())
			if (errWant == nil) != (errGot == nil) {
				t.Errorf("%s into %v: encoding/json says %v, decodeDoc %v", doc, typ, errWant, errGot)
				continue
			}
			if errWant == nil && !reflect.DeepEqual(got.Interface(), want.Interface()) {
				t.Errorf("%s into %v:\n got %+v\nwant %+v", doc, typ, got.Elem(), want.Elem())
			}
		}
	}
}
