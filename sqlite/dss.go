package sqlite

import (
	"context"

	"github.com/deconflict/deconflict"
)

var _ deconflict.DSSTx = (*tx)(nil)

// PutDSSRecord inserts or replaces a record of the DSS interface.
func (t *tx) PutDSSRecord(ctx context.Context, kind, id string, seq int64, doc []byte) error {
	if err := t.shared.PutDSSRecord(ctx, kind, id, seq, doc); err != nil {
		return err
	}
	t.tops.dssMax, t.tops.appended = max(t.tops.dssMax, seq), true
	return nil
}

// DSSLastSeq returns the highest change number of the DSS records.
func (t *tx) DSSLastSeq(ctx context.Context) (int64, error) {
	if !t.tops.dssDeleted {
		if seq, ok := t.keptTop(ctx, func(k *kept) (int64, bool) { return k.dssSeq, k.haveDSSSeq }); ok {
			return max(seq, t.tops.dssMax), nil
		}
	}
	seq, err := t.shared.DSSLastSeq(ctx)
	if err == nil && !t.tops.dssDeleted {
		t.tops.readDSSSeq, t.tops.readDSSSeqOK = seq, true
	}
	return seq, err
}

var _ deconflict.DSSPurgeTx = (*tx)(nil)

// PurgeDSSTombstones removes the rows of deleted records up to seq.
func (t *tx) PurgeDSSTombstones(ctx context.Context, seq int64) (int64, error) {
	t.tops.dssDeleted, t.tops.readDSSSeqOK, t.tops.appended = true, false, true
	return t.shared.PurgeDSSTombstones(ctx, seq)
}
