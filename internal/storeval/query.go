package storeval

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/deconflict/deconflict"
)

// Dialect is how the SQL of the two stores differs where they build the
// same statements from a filter.
type Dialect struct {
	// Param returns the placeholder of the nth argument, from 1.
	Param func(n int) string
	// Arrays is whether a list goes as one array argument (col =
	// ANY($1)), not as one argument an element (col IN (?, ?)).
	Arrays bool
	// NoRows is the driver's error for a row asked for that is not there.
	NoRows error
}

// QuestionMark is SQLite's placeholder of an argument, the same for all.
func QuestionMark(int) string { return "?" }

// Dollar is PostgreSQL's placeholder of the nth argument (from 1): $n.
func Dollar(n int) string { return "$" + strconv.Itoa(n) }

// Args collects the arguments of a statement built piece by piece.
type Args struct {
	d      Dialect
	Values []any
}

// Args returns an empty list of arguments in the dialect.
func (d Dialect) Args() *Args { return &Args{d: d} }

// Add appends v and returns its placeholder.
func (a *Args) Add(v any) string {
	a.Values = append(a.Values, v)
	return a.d.Param(len(a.Values))
}

// In returns the condition that col is one of vals, which must not be
// empty.
func (a *Args) In(col string, vals []string) string {
	if a.d.Arrays {
		return col + " = ANY(" + a.Add(vals) + ")"
	}
	marks := make([]string, len(vals))
	for i, v := range vals {
		marks[i] = a.Add(v)
	}
	return col + " IN (" + strings.Join(marks, ", ") + ")"
}

// Lists read a page at a time by seq: their conditions begin "seq > after".

// OperationsWhere returns the condition of the operations after seq that
// pass f (all but f.Match, which is Go) and its arguments, after first.
func OperationsWhere(d Dialect, f deconflict.OperationFilter, after int64) (string, *Args) {
	a := d.Args()
	where := "seq > " + a.Add(after)
	if f.Party != "" {
		where += " AND party = " + a.Add(f.Party)
	}
	if len(f.States) > 0 {
		where += " AND " + a.In("state", strs(f.States))
	}
	if !f.Start.IsZero() {
		where += " AND t_end >= " + a.Add(Micros(f.Start))
	}
	if !f.End.IsZero() {
		where += " AND t_start <= " + a.Add(Micros(f.End))
	}
	return where, a
}

// ConflictsWhere returns the condition of the conflicts after seq that
// pass f, and its arguments.
func ConflictsWhere(d Dialect, f deconflict.ConflictFilter, after int64) (string, *Args) {
	a := d.Args()
	where := "seq > " + a.Add(after)
	if f.Party != "" {
		where += " AND (party1 = " + a.Add(f.Party) + " OR party2 = " + a.Add(f.Party) + ")"
	}
	if len(f.Statuses) > 0 {
		where += " AND " + a.In("status", strs(f.Statuses))
	}
	return where, a
}

// DutiesWhere returns the condition of the duties after seq that pass f,
// and its arguments.
func DutiesWhere(d Dialect, f deconflict.DutyFilter, after int64) (string, *Args) {
	a := d.Args()
	where := "seq > " + a.Add(after)
	if f.Party != "" {
		where += " AND party = " + a.Add(f.Party)
	}
	if f.Subject != nil {
		where += " AND subject_kind = " + a.Add(f.Subject.Kind) + " AND subject_id = " + a.Add(f.Subject.ID)
	}
	if f.Escalated {
		// A literal, so that a partial index on level serves.
		where += " AND level >= " + strconv.Itoa(int(deconflict.LevelHeads))
	}
	if f.Open {
		where += " AND acked_at IS NULL"
	}
	return where, a
}

// strs returns the strings of a list of string kinds.
func strs[S ~string](ss []S) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return out
}

// Params returns the placeholders of n arguments from the first, joined
// by commas, as a VALUES list takes them.
func (d Dialect) Params(n int) string {
	marks := make([]string, n)
	for i := range marks {
		marks[i] = d.Param(i + 1)
	}
	return strings.Join(marks, ", ")
}

// putWebhook returns the statement and arguments that insert w, or
// replace every field of the webhook with its party and name.
func putWebhook(d Dialect, w *deconflict.Webhook) (string, []any, error) {
	events, err := json.Marshal(w.Events)
	if err != nil {
		return "", nil, fmt.Errorf("encode webhook %s/%s events: %w", w.Party, w.Name, err)
	}
	delivery, err := EncodeDelivery(w.Delivery)
	if err != nil {
		return "", nil, fmt.Errorf("encode webhook %s/%s delivery: %w", w.Party, w.Name, err)
	}
	q := `INSERT INTO webhooks (` + WebhookColumns + `) VALUES (` + d.Params(8) + `)
		ON CONFLICT (party, name) DO UPDATE SET url = excluded.url, events = excluded.events,
			secret = excluded.secret, created_at = excluded.created_at, updated_at = excluded.updated_at,
			delivery = excluded.delivery`
	return q, []any{w.Party, w.Name, w.URL, string(events), w.Secret, Micros(w.CreatedAt), Micros(w.UpdatedAt), delivery}, nil
}
