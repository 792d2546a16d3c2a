package storeval

import (
	"context"
	"fmt"
)

// PutDSSRecordStatement returns the statement that inserts or replaces a
// record of the DSS interface, with arguments kind, id, seq, doc.
func PutDSSRecordStatement(d Dialect) string {
	return `INSERT INTO dss_records (kind, id, seq, doc) VALUES (` + d.Params(4) + `)
		ON CONFLICT (kind, id) DO UPDATE SET seq = excluded.seq, doc = excluded.doc`
}

// PutDSSRecord inserts or replaces a record of the DSS interface.
func (l Tx) PutDSSRecord(ctx context.Context, kind, id string, seq int64, doc []byte) error {
	if _, err := l.Q.Exec(ctx, PutDSSRecordStatement(l.D), kind, id, seq, doc); err != nil {
		return fmt.Errorf("put dss %s %s: %w", kind, id, err)
	}
	return nil
}

// DSSRecordsSince calls fn for every record changed after seq.
func (l Tx) DSSRecordsSince(ctx context.Context, seq int64, fn func(kind, id string, seq int64, doc []byte) error) error {
	return l.each(ctx, "dss records", "SELECT kind, id, seq, doc FROM dss_records WHERE seq > "+l.D.Param(1)+" ORDER BY seq", []any{seq}, func(r Row) error {
		var kind, id string
		var s int64
		var doc []byte
		if err := r.Scan(&kind, &id, &s, &doc); err != nil {
			return fmt.Errorf("select dss records: %w", err)
		}
		return fn(kind, id, s, doc)
	})
}

// DSSLastSeq returns the highest change number of the DSS records.
func (l Tx) DSSLastSeq(ctx context.Context) (int64, error) {
	var n int64
	if err := l.Q.QueryRow(ctx, "SELECT coalesce(max(seq), 0) FROM dss_records").Scan(&n); err != nil {
		return 0, fmt.Errorf("select dss seq: %w", err)
	}
	return n, nil
}

// PurgeDSSTombstones removes the rows of deleted records up to seq.
func (l Tx) PurgeDSSTombstones(ctx context.Context, seq int64) (int64, error) {
	n, err := l.Q.Exec(ctx, "DELETE FROM dss_records WHERE doc IS NULL AND seq <= "+l.D.Param(1), seq)
	if err != nil {
		return 0, fmt.Errorf("purge dss records: %w", err)
	}
	return n, nil
}
