package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"time"

	"github.com/deconflict/deconflict/internal/storeval"
)

// migrationFS holds the schema, one file a version: NNNN_name.sql, applied
// in the order of NNNN. A released file is never changed; a change of the
// schema is a new file.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

// migrations returns the embedded migrations in version order.
func migrations() ([]storeval.Migration, error) { return storeval.Migrations(migrationFS) }

// migrate applies the migrations the database lacks, all in one write
// transaction. The transaction begins IMMEDIATE, so a second process
// opening the same file at the same time waits, then finds them applied.
func migrate(ctx context.Context, db *sql.DB) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	// Most opens find the schema up to date, and need no write lock.
	var current int
	err = db.QueryRowContext(ctx, storeval.SchemaVersionQuery).Scan(&current)
	if err == nil && current == ms[len(ms)-1].Version {
		return nil
	}
	t, err := begin(ctx, db)
	if err != nil {
		return fmt.Errorf("begin migration: %w", err)
	}
	defer t.Rollback()
	if err := storeval.ApplyMigrations(ctx, migrationTx{t}, ms, time.Now(), storeval.QuestionMark); err != nil {
		return err
	}
	if err := t.Commit(); err != nil {
		return fmt.Errorf("commit migration: %w", err)
	}
	return nil
}

// migrationTx runs the statements of ApplyMigrations on a transaction.
type migrationTx struct{ tx *sql.Tx }

func (t migrationTx) Exec(ctx context.Context, query string, args ...any) error {
	_, err := t.tx.ExecContext(ctx, query, args...)
	return err
}

func (t migrationTx) QueryRow(ctx context.Context, query string, args ...any) storeval.Row {
	return t.tx.QueryRowContext(ctx, query, args...)
}
