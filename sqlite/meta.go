package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/deconflict/deconflict"
)

// Meta returns the value kept under name; ENotFound if there is none.
func (t *tx) Meta(ctx context.Context, name string) ([]byte, error) {
	var v []byte
	err := t.queryRow(ctx, "SELECT value FROM meta WHERE name = ?", name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, deconflict.Errorf(deconflict.ENotFound, "no meta value %q", name)
	} else if err != nil {
		return nil, fmt.Errorf("select meta %q: %w", name, err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

// PutMeta keeps value under name, in place of any value before.
func (t *tx) PutMeta(ctx context.Context, name string, value []byte) error {
	if value == nil {
		value = []byte{}
	}
	if _, err := t.exec(ctx, `INSERT INTO meta (name, value) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, value); err != nil {
		return fmt.Errorf("put meta %q: %w", name, err)
	}
	return nil
}
