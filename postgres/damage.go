package postgres

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
)

// Damaged reports whether err, from this store, shows that PostgreSQL
// found its data damaged: SQLSTATE XX001 (data_corrupted) or XX002
// (index_corrupted) (deconflict.DamageReporter).
func (db *DB) Damaged(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "XX001" || pe.Code == "XX002")
}
