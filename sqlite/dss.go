package sqlite

import (
	"context"

	"github.com/deconflict/deconflict"
)

var _ deconflict.DSSTx = (*tx)(nil)

// PutDSSRecord inserts or replaces a record of the DSS interface.
func (t *tx) PutDSSRecord(ctx context.Context, kind, id string, seq int64, doc []byte) error {
	return t.shared().PutDSSRecord(ctx, kind, id, seq, doc)
}

// DSSRecordsSince calls fn for every record changed after seq.
func (t *tx) DSSRecordsSince(ctx context.Context, seq int64, fn func(kind, id string, seq int64, doc []byte) error) error {
	return t.shared().DSSRecordsSince(ctx, seq, fn)
}

// DSSLastSeq returns the highest change number of the DSS records.
func (t *tx) DSSLastSeq(ctx context.Context) (int64, error) {
	return t.shared().DSSLastSeq(ctx)
}

var _ deconflict.DSSPurgeTx = (*tx)(nil)

// PurgeDSSTombstones removes the rows of deleted records up to seq.
func (t *tx) PurgeDSSTombstones(ctx context.Context, seq int64) (int64, error) {
	return t.shared().PurgeDSSTombstones(ctx, seq)
}
