package postgres

import (
	"context"
	"embed"
	"fmt"
	"time"

	"github.com/deconflict/deconflict/internal/storeval"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrationFS holds the schema, one file a version: NNNN_name.sql, applied
// in the order of NNNN. A released file is never changed; a change of the
// schema is a new file.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

// migrations returns the embedded migrations in version order.
func migrations() ([]storeval.Migration, error) { return storeval.Migrations(migrationFS) }

// migrate applies the migrations the database lacks, all in one
// transaction, holding a session advisory lock the while: replicas that
// start at once take turns, and those after the first find the schema up
// to date.
func migrate(ctx context.Context, pool *pgxpool.Pool) (err error) {
	ms, err := migrations()
	if err != nil {
		return err
	}
	c, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer c.Release()
	if _, err := c.Exec(ctx, "SELECT pg_advisory_lock($1)", migrateLockKey); err != nil {
		c.Conn().Close(ctx) // the lock, if taken, ends with the session
		return fmt.Errorf("lock for migration: %w", err)
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, uerr := c.Exec(uctx, "SELECT pg_advisory_unlock($1)", migrateLockKey); uerr != nil {
			c.Conn().Close(uctx)
		}
	}()

	t, err := c.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin migration: %w", err)
	}
	defer t.Rollback(context.WithoutCancel(ctx))
	if err := storeval.ApplyMigrations(ctx, migrationTx{t}, ms, time.Now(), storeval.Dollar); err != nil {
		return err
	}
	if err := t.Commit(ctx); err != nil {
		return fmt.Errorf("commit migration: %w", err)
	}
	return nil
}

// migrationTx runs the statements of ApplyMigrations on a transaction. A
// statement without arguments goes by the simple protocol, which runs a
// file of many statements.
type migrationTx struct{ tx pgx.Tx }

func (t migrationTx) Exec(ctx context.Context, query string, args ...any) error {
	_, err := t.tx.Exec(ctx, query, args...)
	return err
}

func (t migrationTx) QueryRow(ctx context.Context, query string, args ...any) storeval.Row {
	return t.tx.QueryRow(ctx, query, args...)
}
