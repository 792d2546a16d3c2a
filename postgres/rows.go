package postgres

import (
	"fmt"
	"strings"
)

// A write transaction stores a batch's events, duties and operations one
// row at a time, and each row's statement costs PostgreSQL about as much
// again as the row (parse, bind, execute, their messages). Rows queued to
// be sent later (see later) are therefore sent together: when the pending
// statements go out, each run of queued rows becomes one statement per
// table, which takes the rows as arrays (unnest) and so has one text
// whatever their number, prepared once per connection. Rows of different
// tables may go in any order (no foreign keys or triggers join these
// tables); rows of one table keep theirs, and an upsert never meets the
// same key twice in one statement (PostgreSQL refuses that), so a repeated
// key begins a new one.

// rowTable is a table whose rows are sent together.
type rowTable struct {
	name string
	// query inserts the rows given as one array per column, in the
	// order of the columns.
	query string
	// upsert: the query updates a row whose key exists, so a key may
	// appear once per statement.
	upsert bool
	// failed, if set, makes the error of a statement of rows into the
	// error the transaction reports; nil for the error as it is.
	failed func(error) error
}

// newRowTable returns the table name with the columns (each "name
// type", type the PostgreSQL type of one value) and, for an upsert, what
// follows the insert (ON CONFLICT …).
func newRowTable(name string, columns []string, onConflict string) *rowTable {
	names := make([]string, len(columns))
	arrays := make([]string, len(columns))
	for i, c := range columns {
		n, typ, _ := strings.Cut(c, " ")
		names[i] = n
		arrays[i] = fmt.Sprintf("$%d::%s[]", i+1, typ)
	}
	q := fmt.Sprintf("INSERT INTO %s (%s) SELECT * FROM unnest(%s)", name, strings.Join(names, ", "), strings.Join(arrays, ", "))
	if onConflict != "" {
		q += " " + onConflict
	}
	return &rowTable{name: name, query: q, upsert: onConflict != ""}
}

// queuedRow is a row waiting to be sent: the values of its columns, and
// its key for an upsert.
type queuedRow struct {
	table *rowTable
	key   string
	vals  []any
}

// laterRow queues a row of table, sent with the next statement or the
// commit together with the other rows queued (see later).
func (t *tx) laterRow(what string, table *rowTable, key string, vals ...any) {
	t.pending = append(t.pending, queued{what: what, row: &queuedRow{table: table, key: key, vals: vals}})
	t.writes++
}

// maxRows bounds the rows of one statement.
const maxRows = 1000

// gatherRows returns pending with each run of queued rows made into one
// statement per table (more if a key repeats or a table has more than
// maxRows of them); the other statements stay as they are, where they
// are.
func gatherRows(pending []queued) []queued {
	has := false
	for _, q := range pending {
		if q.row != nil {
			has = true
			break
		}
	}
	if !has {
		return pending
	}
	out := make([]queued, 0, len(pending))
	for i := 0; i < len(pending); {
		if pending[i].row == nil {
			out = append(out, pending[i])
			i++
			continue
		}
		j := i
		for j < len(pending) && pending[j].row != nil {
			j++
		}
		out = append(out, rowStatements(pending[i:j])...)
		i = j
	}
	return out
}

// rowStatements makes a run of queued rows into statements, one per
// table in the order each first appears, split where an upsert's key
// repeats or past maxRows.
func rowStatements(run []queued) []queued {
	var tables []*rowTable
	byTable := map[*rowTable][]queued{}
	for _, q := range run {
		t := q.row.table
		if _, ok := byTable[t]; !ok {
			tables = append(tables, t)
		}
		byTable[t] = append(byTable[t], q)
	}
	var out []queued
	for _, t := range tables {
		rows := byTable[t]
		for len(rows) > 0 {
			n := 0
			seen := map[string]bool{}
			for n < len(rows) && n < maxRows {
				if t.upsert {
					if seen[rows[n].row.key] {
						break
					}
					seen[rows[n].row.key] = true
				}
				n++
			}
			out = append(out, rowStatement(t, rows[:n]))
			rows = rows[n:]
		}
	}
	return out
}

// rowStatement is one statement storing rows of t.
func rowStatement(t *rowTable, rows []queued) queued {
	what := rows[0].what
	if len(rows) > 1 {
		what = fmt.Sprintf("%s and %d more rows of %s", what, len(rows)-1, t.name)
	}
	cols := len(rows[0].row.vals)
	args := make([]any, cols)
	for c := range cols {
		args[c] = column(rows, c)
	}
	return queued{what: what, query: t.query, args: args, failed: t.failed}
}

// column returns the values of column c of rows as a slice of their
// type, which pgx sends as an array (nil elements as NULL).
func column(rows []queued, c int) any {
	switch rows[0].row.vals[c].(type) {
	case int64:
		return gather[int64](rows, c)
	case int:
		out := make([]int64, len(rows))
		for i, r := range rows {
			out[i] = int64(r.row.vals[c].(int))
		}
		return out
	case string:
		return gather[string](rows, c)
	case *string:
		return gather[*string](rows, c)
	case *int64:
		return gather[*int64](rows, c)
	case []byte:
		return gather[[]byte](rows, c)
	}
	panic(fmt.Sprintf("postgres: a row of %s holds a %T, which rows.go cannot send as an array", rows[0].row.table.name, rows[0].row.vals[c]))
}

func gather[T any](rows []queued, c int) []T {
	out := make([]T, len(rows))
	for i, r := range rows {
		out[i] = r.row.vals[c].(T)
	}
	return out
}
