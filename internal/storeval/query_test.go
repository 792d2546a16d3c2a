package storeval

import (
	"reflect"
	"testing"

	"github.com/deconflict/deconflict"
)

// The same filter makes the same condition in both dialects, but for
// placeholders and how a list of states is passed.
func TestConflictsWhereDialects(t *testing.T) {
	f := deconflict.ConflictFilter{Party: "p1", Statuses: []deconflict.ConflictStatus{deconflict.ConflictOpen, deconflict.ConflictResolved}}
	sqlite := Dialect{Param: QuestionMark}
	postgres := Dialect{Param: Dollar, Arrays: true}
	for _, tc := range []struct {
		name      string
		d         Dialect
		where     string
		arguments []any
	}{
		{"sqlite", sqlite, "seq > ? AND (party1 = ? OR party2 = ?) AND status IN (?, ?)", []any{int64(7), "p1", "p1", "open", "resolved"}},
		{"postgres", postgres, "seq > $1 AND (party1 = $2 OR party2 = $3) AND status = ANY($4)", []any{int64(7), "p1", "p1", []string{"open", "resolved"}}},
	} {
		where, args := ConflictsWhere(tc.d, f, 7)
		if where != tc.where {
			t.Errorf("%s: where = %q, want %q", tc.name, where, tc.where)
		}
		if !reflect.DeepEqual(args.Values, tc.arguments) {
			t.Errorf("%s: arguments = %#v, want %#v", tc.name, args.Values, tc.arguments)
		}
		if got, want := args.Add(10), tc.d.Param(len(tc.arguments)+1); got != want {
			t.Errorf("%s: next placeholder = %q, want %q", tc.name, got, want)
		}
	}
}

// Escalated duties are asked for with a literal level, so that the
// partial index on level serves a prepared statement too.
func TestDutiesWhereEscalatedLiteral(t *testing.T) {
	where, args := DutiesWhere(Dialect{Param: Dollar, Arrays: true}, deconflict.DutyFilter{Escalated: true, Open: true}, 0)
	if want := "seq > $1 AND level >= 1 AND acked_at IS NULL"; where != want {
		t.Errorf("where = %q, want %q", where, want)
	}
	if len(args.Values) != 1 {
		t.Errorf("arguments = %v, want only the cursor", args.Values)
	}
}
