package storeval

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/deconflict/deconflict"
)

// sampleConflicts are conflicts as the stores keep them.
func sampleConflicts() []*deconflict.Conflict {
	at := time.Date(2026, 11, 25, 12, 0, 0, 123456000, time.UTC)
	later := at.Add(90 * time.Minute)
	open := &deconflict.Conflict{ID: "5f1c9b1e-2d3a-5b6c-8d9e-0f1a2b3c4d5e", Status: deconflict.ConflictOpen,
		Operations: [2]string{"0d6c2d6e-6c39-4f4e-9b0e-4a7d7f0e1c11", "9a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"}, Parties: [2]string{"alpha", "bravo"},
		DetectedAt: at, Separation: deconflict.Separation{HorizontalM: 1234.5678, VerticalM: -200, TimeS: -3600},
		Acknowledged: map[string]*time.Time{"alpha": nil, "bravo": nil}, Waived: map[string]*time.Time{"alpha": nil, "bravo": nil}, UpdatedAt: at}
	closed := *open
	closed.Status, closed.ClosedAt, closed.UpdatedAt = deconflict.ConflictWaived, &later, later
	closed.Acknowledged = map[string]*time.Time{"alpha": &at, "bravo": &later}
	closed.Separation = deconflict.Separation{HorizontalM: 0, VerticalM: 1e-7, TimeS: 1e21}
	late := *open
	late.FoundLate = map[string]time.Time{"alpha": at, "bravo": later}
	late.Waived = nil
	return []*deconflict.Conflict{open, &closed, &late, {}}
}

// TestScanConflictDoc checks that the documents the SQLite store writes
// are read by the scanner, as encoding/json reads them, and that others
// are left to decodeDoc.
func TestScanConflictDoc(t *testing.T) {
	for _, c := range sampleConflicts() {
		doc, err := json.Marshal(StoredConflict(c))
		if err != nil {
			t.Fatal(err)
		}
		got, ok := scanConflictDoc(string(doc))
		if !ok {
			t.Errorf("%s: left to decodeDoc", doc)
			continue
		}
		var want deconflict.Conflict
		if err := json.Unmarshal(doc, &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, &want) {
			t.Errorf("%s:\n got %+v\nwant %+v", doc, got, &want)
		}
		indented, _ := json.MarshalIndent(c, "", " ")
		for _, other := range []string{string(indented), strings.Replace(string(doc), `"alpha"`, `"\u0061lpha"`, 1),
			strings.Replace(string(doc), `"detected_at":"`, `"detected_at":null,"x":"`, 1), string(doc) + " "} {
			if _, ok := scanConflictDoc(other); ok && other != string(doc) {
				t.Errorf("%s: scanned, not left to decodeDoc", other)
			}
		}
	}
}

// FuzzScanConflictDoc holds the scanner to encoding/json: a document it
// reads, encoding/json decodes without error to the same conflict.
func FuzzScanConflictDoc(f *testing.F) {
	for _, c := range sampleConflicts() {
		doc, _ := json.Marshal(StoredConflict(c))
		f.Add(string(doc))
	}
	f.Fuzz(func(t *testing.T, doc string) {
		got, ok := scanConflictDoc(doc)
		if !ok {
			return
		}
		var want deconflict.Conflict
		if err := json.Unmarshal([]byte(doc), &want); err != nil {
			t.Fatalf("scanned %s, which encoding/json refuses: %v", doc, err)
		}
		if !reflect.DeepEqual(got, &want) {
			t.Fatalf("%s:\n got %+v\nwant %+v", doc, got, &want)
		}
	})
}
