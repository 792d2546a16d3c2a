package postgres

import (
	"context"
	"fmt"

	"github.com/deconflict/deconflict"
)

var _ deconflict.DSSTx = (*tx)(nil)

// PutDSSRecord inserts or replaces a record of the DSS interface. It is
// sent with the next statement that needs an answer (or the commit).
func (t *tx) PutDSSRecord(ctx context.Context, kind, id string, doc []byte) error {
	t.later("put dss "+kind+" "+id, `INSERT INTO dss_records (kind, id, doc) VALUES ($1, $2, $3)
		ON CONFLICT (kind, id) DO UPDATE SET doc = excluded.doc`, kind, id, doc)
	return nil
}

// DeleteDSSRecord removes a record of the DSS interface.
func (t *tx) DeleteDSSRecord(ctx context.Context, kind, id string) error {
	t.later("delete dss "+kind+" "+id, "DELETE FROM dss_records WHERE kind = $1 AND id = $2", kind, id)
	return nil
}

// DSSRecords calls fn for every record of the kind.
func (t *tx) DSSRecords(ctx context.Context, kind string, fn func(id string, doc []byte) error) error {
	rows, err := t.query(ctx, "SELECT id, doc FROM dss_records WHERE kind = $1", kind)
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
