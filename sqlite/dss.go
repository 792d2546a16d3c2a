package sqlite

import (
	"context"
	"fmt"

	"github.com/deconflict/deconflict"
)

var _ deconflict.DSSTx = (*tx)(nil)

// PutDSSRecord inserts or replaces a record of the DSS interface.
func (t *tx) PutDSSRecord(ctx context.Context, kind, id string, doc []byte) error {
	if _, err := t.exec(ctx, `INSERT INTO dss_records (kind, id, doc) VALUES (?, ?, ?)
		ON CONFLICT (kind, id) DO UPDATE SET doc = excluded.doc`, kind, id, doc); err != nil {
		return fmt.Errorf("put dss %s %s: %w", kind, id, err)
	}
	return nil
}

// DeleteDSSRecord removes a record of the DSS interface.
func (t *tx) DeleteDSSRecord(ctx context.Context, kind, id string) error {
	if _, err := t.exec(ctx, "DELETE FROM dss_records WHERE kind = ? AND id = ?", kind, id); err != nil {
		return fmt.Errorf("delete dss %s %s: %w", kind, id, err)
	}
	return nil
}

// DSSRecords calls fn for every record of the kind.
func (t *tx) DSSRecords(ctx context.Context, kind string, fn func(id string, doc []byte) error) error {
	rows, err := t.query(ctx, "SELECT id, doc FROM dss_records WHERE kind = ?", kind)
	if err != nil {
		return fmt.Errorf("select dss %s: %w", kind, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var doc []byte
		if err := rows.Scan(&id, &doc); err != nil {
			return fmt.Errorf("select dss %s: %w", kind, err)
		}
		if err := fn(id, doc); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("select dss %s: %w", kind, err)
	}
	return nil
}
