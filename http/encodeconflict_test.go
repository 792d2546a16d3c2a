package http

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
)

// TestAppendConflictFields fails when dc.Conflict gains, loses or renames
// a field: appendConflict writes its fields by hand and must follow.
func TestAppendConflictFields(t *testing.T) {
	want := []string{`json:"id"`, `json:"status"`, `json:"operations"`, `json:"parties"`, `json:"detected_at"`, `json:"closed_at"`,
		`json:"separation"`, `json:"acknowledged"`, `json:"waived"`, `json:"updated_at"`, `json:"found_late,omitempty"`}
	typ := reflect.TypeFor[dc.Conflict]()
	var got []string
	for i := range typ.NumField() {
		got = append(got, string(typ.Field(i).Tag))
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("dc.Conflict has the fields %v; appendConflict writes %v: change it with the type", got, want)
	}
	sep := reflect.TypeFor[dc.Separation]()
	if sep.NumField() != 3 {
		t.Fatalf("dc.Separation has %d fields; appendConflict writes 3", sep.NumField())
	}
}

// TestAppendConflictAsEncodingJSON checks that appendConflict writes
// random conflicts byte for byte as encoding/json does, and leaves those
// it cannot write plainly (escapes, non-finite numbers) to it.
func TestAppendConflictAsEncodingJSON(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 2))
	texts := []string{"alpha", "bravo", "x-1", "", "a<b>&c", `quo"te`, "back\\slash", "é", "tab\t", "\u2028", "\x7f"}
	text := func() string {
		if r.IntN(4) > 0 {
			return texts[r.IntN(3)]
		}
		return texts[r.IntN(len(texts))]
	}
	times := []time.Time{
		time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 25, 12, 0, 0, 123456000, time.UTC),
		time.Date(2026, 11, 25, 14, 0, 0, 1, time.FixedZone("", 2*3600)),
		{},
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	tm := func() *time.Time {
		if r.IntN(3) == 0 {
			return nil
		}
		t := times[r.IntN(len(times))]
		return &t
	}
	floats := []float64{0, math.Copysign(0, -1), 1, -2000, 1234.5678, 1e-7, 1e21, 123456789012345678, math.NaN(), math.Inf(1), 5e-324}
	timeMap := func() map[string]*time.Time {
		if r.IntN(5) == 0 {
			return nil
		}
		m := map[string]*time.Time{}
		for range r.IntN(4) {
			m[text()] = tm()
		}
		return m
	}
	plain, other := 0, 0
	for range 3000 {
		c := &dc.Conflict{
			ID: text(), Status: dc.ConflictStatus(text()), Operations: [2]string{text(), text()}, Parties: [2]string{text(), text()},
			DetectedAt: times[r.IntN(len(times))], ClosedAt: tm(), UpdatedAt: times[r.IntN(len(times))],
			Separation:   dc.Separation{HorizontalM: floats[r.IntN(len(floats))], VerticalM: floats[r.IntN(len(floats))], TimeS: floats[r.IntN(len(floats))]},
			Acknowledged: timeMap(), Waived: timeMap(),
		}
		if r.IntN(3) == 0 {
			c.FoundLate = map[string]time.Time{}
			for range r.IntN(3) {
				c.FoundLate[text()] = times[r.IntN(len(times))]
			}
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		encErr := enc.Encode(c)
		got, ok := appendConflict([]byte("prefix"), c)
		if !ok {
			other++
			if string(got) != "prefix" {
				t.Fatalf("a conflict left to encoding/json changed the buffer: %q", got)
			}
			continue
		}
		plain++
		if encErr != nil {
			t.Fatalf("appendConflict wrote %s, which encoding/json refuses: %v", got, encErr)
		}
		if want := "prefix" + buf.String(); string(got)+"\n" != want {
			t.Fatalf("appendConflict wrote\n%s\nencoding/json\n%s", got, want)
		}
	}
	t.Logf("%d conflicts written by hand, %d left to encoding/json", plain, other)
	if plain < 100 || other < 100 {
		t.Fatal("too few of either kind: the test tests little")
	}
}
