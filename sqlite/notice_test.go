package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/storeval"
)

// olderFile makes at path a file with the schema of migration version, as
// an older program made it, and then runs the statements more there. It
// returns every migration this program knows.
func olderFile(t *testing.T, path string, version int, more ...string) []storeval.Migration {
	t.Helper()
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	old, err := sql.Open(DriverName, dsn(path, url.Values{}))
	if err != nil {
		t.Fatal(err)
	}
	qs := []string{"CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"}
	for _, m := range ms {
		if m.Version > version {
			break
		}
		qs = append(qs, m.SQL, fmt.Sprintf("INSERT INTO schema_migrations VALUES (%d, '%s', 0)", m.Version, m.Name))
	}
	for _, q := range append(qs, more...) {
		if _, err := old.ExecContext(t.Context(), q); err != nil {
			old.Close()
			t.Fatalf("%.40s: %v", q, err)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	return ms
}

// TestMigrateFromVersion1 opens a file made by a program that knew only
// the first migration: Open adds the notice tables, and keeps the data.
func TestMigrateFromVersion1(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "v1.db")
	ms := olderFile(t, path, 1, "INSERT INTO parties (id, name, created_at) VALUES ('alpha', 'Alpha', 0)")
	db := MustOpen(t, path)
	var version int
	if err := db.read.QueryRowContext(ctx, "SELECT max(version) FROM schema_migrations").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if want := ms[len(ms)-1].Version; version != want {
		t.Errorf("schema version after Open: %d, want %d", version, want)
	}
	due := time.Unix(1000, 0).UTC()
	if err := db.Update(ctx, func(tx deconflict.Tx) error {
		if err := tx.PutDuty(ctx, &deconflict.Duty{ID: "d", Party: "alpha", DueAt: &due}); err != nil {
			return err
		}
		if err := tx.PutMessage(ctx, &deconflict.Message{ID: "m", To: []string{"alpha"}}); err != nil {
			return err
		}
		return tx.PutWebhook(ctx, &deconflict.Webhook{Party: "alpha", Name: "w"})
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.View(ctx, func(tx deconflict.Tx) error {
		if _, err := tx.Party(ctx, "alpha"); err != nil {
			t.Errorf("party of version 1: %v", err)
		}
		if ds, err := tx.DutiesDue(ctx, due, 0); err != nil || len(ds) != 1 {
			t.Errorf("DutiesDue: %d duties, %v; want 1", len(ds), err)
		}
		if ms, _, err := tx.Messages(ctx, deconflict.MessageFilter{Party: "alpha"}); err != nil || len(ms) != 1 {
			t.Errorf("Messages: %d messages, %v; want 1", len(ms), err)
		}
		if ws, err := tx.Webhooks(ctx, "alpha"); err != nil || len(ws) != 1 {
			t.Errorf("Webhooks: %d webhooks, %v; want 1", len(ws), err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestNoticeQueryPlans checks that the queries the escalation timer and
// the lists run often use their indexes, with no sort of the whole table.
func TestNoticeQueryPlans(t *testing.T) {
	db := MustOpen(t, "")
	ctx := t.Context()
	for _, tc := range []struct {
		name, q string
		args    []any
		want    []string
	}{
		{"DutiesDue", dutiesDueQuery, []any{0, 10}, []string{"USING INDEX duties_open_due"}},
		{"Escalated duties", "SELECT " + storeval.DutyColumns + fmt.Sprintf(" FROM duties WHERE seq > ? AND level >= %d ORDER BY seq LIMIT ?", deconflict.LevelHeads),
			[]any{0, 10}, []string{"USING INDEX duties_escalated"}},
		{"Messages of a party", "SELECT " + storeval.MessageColumns + " FROM messages WHERE seq > ? AND " + sentByOrTo + " ORDER BY seq LIMIT ?",
			[]any{0, "alpha", "alpha", 10}, []string{"message_to USING PRIMARY KEY"}},
		{"Webhooks", "SELECT " + storeval.WebhookColumns + " FROM webhooks ORDER BY party, name", nil, nil},
	} {
		plan := queryPlan(ctx, t, db, tc.q, tc.args...)
		t.Logf("%s:\n%s", tc.name, plan)
		for _, w := range tc.want {
			if !strings.Contains(plan, w) {
				t.Errorf("%s: plan does not use %q:\n%s", tc.name, w, plan)
			}
		}
		if strings.Contains(plan, "TEMP B-TREE") {
			t.Errorf("%s: plan sorts:\n%s", tc.name, plan)
		}
	}
}

// queryPlan returns SQLite's plan of the query, one step a line.
func queryPlan(ctx context.Context, t *testing.T, db *DB, q string, args ...any) string {
	t.Helper()
	rows, err := db.read.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatalf("EXPLAIN QUERY PLAN: %v", err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		b.WriteString(detail + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
