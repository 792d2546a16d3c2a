package postgres

import (
	"context"

	"github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/storeval"
)

var _ deconflict.DSSTx = (*tx)(nil)

// PutDSSRecord inserts or replaces a record of the DSS interface. It is
// sent with the next statement that needs an answer (or the commit).
func (t *tx) PutDSSRecord(ctx context.Context, kind, id string, seq int64, doc []byte) error {
	t.later("put dss "+kind+" "+id, storeval.PutDSSRecordStatement(dialect), kind, id, seq, doc)
	return nil
}

var _ deconflict.DSSPurgeTx = (*tx)(nil)
