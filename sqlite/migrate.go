package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// migrationFS holds the schema, one file a version: NNNN_name.sql, applied
// in the order of NNNN. A released file is never changed; a change of the
// schema is a new file.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one versioned schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in version order.
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	var ms []migration
	for _, name := range names {
		base := path.Base(name)
		prefix, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(prefix)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("read migration %s: name does not start with a version number", base)
		}
		b, err := migrationFS.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", base, err)
		}
		ms = append(ms, migration{version: v, name: strings.TrimSuffix(base, ".sql"), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("read migrations: version %d appears twice", ms[i].version)
		}
	}
	return ms, nil
}

// migrate applies the migrations the database lacks, all in one write
// transaction. The transaction begins IMMEDIATE, so a second process
// opening the same file at the same time waits, then finds them applied.
func migrate(ctx context.Context, db *sql.DB) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	latest := ms[len(ms)-1].version
	// Most opens find the schema up to date, and need no write lock.
	var current int
	err = db.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&current)
	if err == nil && current == latest {
		return nil
	}
	t, err := begin(ctx, db)
	if err != nil {
		return fmt.Errorf("begin migration: %w", err)
	}
	defer t.Rollback()
	if _, err := t.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at INTEGER NOT NULL
	)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	if err := t.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&current); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if current > latest {
		return fmt.Errorf("read schema version: the database has version %d, newer than this program's %d", current, latest)
	}
	now := time.Now().UnixMicro()
	for _, m := range ms {
		if m.version <= current {
			continue
		}
		if _, err := t.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("apply migration %s: %w", m.name, err)
		}
		if _, err := t.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
			m.version, m.name, now); err != nil {
			return fmt.Errorf("record migration %s: %w", m.name, err)
		}
	}
	if err := t.Commit(); err != nil {
		return fmt.Errorf("commit migration: %w", err)
	}
	return nil
}
