package postgres

import (
	"context"
	"fmt"

	"github.com/deconflict/deconflict"
)

var _ deconflict.DSSTx = (*tx)(nil)

// PutDSSRecord inserts or replaces a record of the DSS interface. It is
// sent with the next statement that needs an answer (or the commit).
func (t *tx) PutDSSRecord(ctx context.Context, kind, id string, seq int64, doc []byte) error {
	t.later("put dss "+kind+" "+id, `INSERT INTO dss_records (kind, id, seq, doc) VALUES ($1, $2, $3, $4)
		ON CONFLICT (kind, id) DO UPDATE SET seq = excluded.seq, doc = excluded.doc`, kind, id, seq, doc)
	return nil
}

// DSSRecordsSince calls fn for every record changed after seq.
func (t *tx) DSSRecordsSince(ctx context.Context, seq int64, fn func(kind, id string, seq int64, doc []byte) error) error {
	rows, err := t.query(ctx, "SELECT kind, id, seq, doc FROM dss_records WHERE seq > $1 ORDER BY seq", seq)
	if err != nil {
		return fmt.Errorf("select dss records: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var kind, id string
		var s int64
		var doc []byte
		if err := rows.Scan(&kind, &id, &s, &doc); err != nil {
			return fmt.Errorf("select dss records: %w", err)
		}
		if err := fn(kind, id, s, doc); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("select dss records: %w", err)
	}
	return nil
}

// DSSLastSeq returns the highest change number of the DSS records.
func (t *tx) DSSLastSeq(ctx context.Context) (int64, error) {
	var n int64
	if err := t.queryRow(ctx, "SELECT coalesce(max(seq), 0) FROM dss_records").Scan(&n); err != nil {
		return 0, fmt.Errorf("select dss seq: %w", err)
	}
	return n, nil
}

var _ deconflict.DSSPurgeTx = (*tx)(nil)

// PurgeDSSTombstones removes the rows of deleted records up to seq.
func (t *tx) PurgeDSSTombstones(ctx context.Context, seq int64) (int64, error) {
	tag, err := t.exec(ctx, "DELETE FROM dss_records WHERE doc IS NULL AND seq <= $1", seq)
	if err != nil {
		return 0, fmt.Errorf("purge dss records: %w", err)
	}
	return tag.RowsAffected(), nil
}
