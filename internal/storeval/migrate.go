package storeval

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// A Migration is one versioned schema change of a store: a file
// migrations/NNNN_name.sql of its embedded files, applied in the order of
// NNNN. A released file is never changed; a change of the schema is a new
// file.
type Migration struct {
	Version int
	Name    string // the file's name without .sql
	SQL     string
}

// Migrations returns the migrations/*.sql files of fsys in version order.
func Migrations(fsys fs.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	var ms []Migration
	for _, name := range names {
		base := path.Base(name)
		prefix, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(prefix)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("read migration %s: name does not start with a version number", base)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", base, err)
		}
		ms = append(ms, Migration{Version: v, Name: strings.TrimSuffix(base, ".sql"), SQL: string(b)})
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("read migrations: none")
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i := 1; i < len(ms); i++ {
		if ms[i].Version == ms[i-1].Version {
			return nil, fmt.Errorf("read migrations: version %d appears twice", ms[i].Version)
		}
	}
	return ms, nil
}

// MigrationTx is the transaction a store applies its migrations in, with
// the store's placeholders: "?" or "$1".
type MigrationTx interface {
	Exec(ctx context.Context, query string, args ...any) error
	QueryRow(ctx context.Context, query string, args ...any) Row
}

// SchemaVersionQuery reads the version of the schema a database has, 0
// for none; an error if it has no schema_migrations table.
const SchemaVersionQuery = "SELECT coalesce(max(version), 0) FROM schema_migrations"

// ApplyMigrations applies to t the migrations of ms (in version order)
// that the database lacks, and records each in schema_migrations (made if
// missing) as applied at now. A database with a version newer than the
// last of ms is an error: an older program does not write to a newer
// schema. param is the store's placeholder of the nth argument.
func ApplyMigrations(ctx context.Context, t MigrationTx, ms []Migration, now time.Time, param func(n int) string) error {
	if err := t.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at bigint NOT NULL
	)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	var current int
	if err := t.QueryRow(ctx, SchemaVersionQuery).Scan(&current); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	latest := ms[len(ms)-1].Version
	if current > latest {
		return fmt.Errorf("read schema version: the database has version %d, newer than this program's %d", current, latest)
	}
	record := "INSERT INTO schema_migrations (version, name, applied_at) VALUES (" + param(1) + ", " + param(2) + ", " + param(3) + ")"
	for _, m := range ms {
		if m.Version <= current {
			continue
		}
		if err := t.Exec(ctx, m.SQL); err != nil {
			return fmt.Errorf("apply migration %s: %w", m.Name, err)
		}
		if err := t.Exec(ctx, record, m.Version, m.Name, Micros(now)); err != nil {
			return fmt.Errorf("record migration %s: %w", m.Name, err)
		}
	}
	return nil
}
