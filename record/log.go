package record

import (
	"context"
	"fmt"

	dc "github.com/deconflict/deconflict"
	"golang.org/x/mod/sumdb/tlog"
)

// Hashes is where the log's stored hashes are read: a dc.Tx, or anything
// that reads them as one does.
type Hashes interface {
	LogHashes(ctx context.Context, indexes []int64) ([][32]byte, error)
}

// Log is where the log's events and stored hashes are read: a dc.Tx, or
// anything that reads them as one does. What a log holds up to a size
// never changes, so a long reader may read it in several transactions.
type Log interface {
	Hashes
	Events(ctx context.Context, after int64, limit int) ([]*dc.Event, error)
}

// HashReader adapts stored log hashes (Tx.LogHashes) to tlog.HashReader.
// Reads run in ctx; a missing hash is an error with code ENotFound.
func HashReader(ctx context.Context, tx Hashes) tlog.HashReader {
	return tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		if len(indexes) == 0 {
			return []tlog.Hash{}, nil
		}
		hs, err := tx.LogHashes(ctx, indexes)
		if err != nil {
			return nil, err
		}
		if len(hs) != len(indexes) {
			return nil, fmt.Errorf("log hashes: asked for %d, got %d", len(indexes), len(hs))
		}
		out := make([]tlog.Hash, len(hs))
		for i, h := range hs {
			out[i] = tlog.Hash(h)
		}
		return out, nil
	})
}

// Append stores the hashes the Merkle log gains with event e, whose leaf
// is record e.Seq-1, in tx: the hashes tlog.StoredHashes computes, at
// consecutive storage indexes from tlog.StoredHashIndex(0, e.Seq-1).
//
// Call it for every event, in sequence order, in the transaction that
// appends the event (after Tx.AppendEvent has set e.Seq), with the event
// as the store will read it back (see EntryBytes). It fails if the
// previous event has not been logged, and (EExists, from the store) if
// this one already has been, so the log never has a gap or a rewrite.
func Append(ctx context.Context, tx dc.Tx, e *dc.Event) error {
	_, _, err := appendEntry(ctx, tx, e, false)
	return err
}

// AppendLeaf is Append that also returns the leaf hash and the bytes of
// the record it logged (EntryBytes), for a caller that remembers them.
func AppendLeaf(ctx context.Context, tx dc.Tx, e *dc.Event) (tlog.Hash, []byte, error) {
	return appendEntry(ctx, tx, e, false)
}

// AppendMarshalled is Append for an event whose Data is empty or was
// written by json.Marshal, and so needs no check that it is JSON (its
// UTF-8 is still checked).
func AppendMarshalled(ctx context.Context, tx dc.Tx, e *dc.Event) error {
	_, _, err := appendEntry(ctx, tx, e, true)
	return err
}

// AppendMarshalledLeaf is AppendMarshalled that also returns the leaf
// hash and the bytes of the record it logged, for a caller that
// remembers them.
func AppendMarshalledLeaf(ctx context.Context, tx dc.Tx, e *dc.Event) (tlog.Hash, []byte, error) {
	return appendEntry(ctx, tx, e, true)
}

// appendEntry is Append; it returns the record's leaf hash and bytes.
func appendEntry(ctx context.Context, tx dc.Tx, e *dc.Event, marshalled bool) (tlog.Hash, []byte, error) {
	if e.Seq < 1 {
		return tlog.Hash{}, nil, fmt.Errorf("log event: sequence number %d is not 1 or more", e.Seq)
	}
	index := e.Seq - 1
	r := HashReader(ctx, tx)
	if index > 0 {
		// Read the previous leaf along with what StoredHashes needs, in the
		// same call, to make sure the log has exactly index records.
		prev := tlog.StoredHashIndex(0, index-1)
		inner := r
		r = tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
			hs, err := inner.ReadHashes(append(indexes[:len(indexes):len(indexes)], prev))
			if dc.ErrorCode(err) == dc.ENotFound {
				return nil, fmt.Errorf("event %d comes before event %d is logged: %w", e.Seq, e.Seq-1, err)
			} else if err != nil {
				return nil, err
			}
			return hs[:len(indexes)], nil
		})
	}
	rec := entryBytes(e, marshalled)
	hashes, err := tlog.StoredHashes(index, rec, r)
	if err != nil {
		return tlog.Hash{}, nil, fmt.Errorf("log event %d: %w", e.Seq, err)
	}
	out := make([][32]byte, len(hashes))
	for i, h := range hashes {
		out[i] = h
	}
	if err := tx.PutLogHashes(ctx, tlog.StoredHashIndex(0, index), out); err != nil {
		return tlog.Hash{}, nil, fmt.Errorf("log event %d: %w", e.Seq, err)
	}
	return hashes[0], rec, nil // StoredHashes begins with the leaf's hash
}

// TreeHash returns the root hash of the log of its first n records.
func TreeHash(ctx context.Context, tx Hashes, n int64) (tlog.Hash, error) {
	if n < 0 {
		return tlog.Hash{}, dc.Errorf(dc.EInvalid, "tree size %d is negative", n)
	}
	h, err := tlog.TreeHash(n, HashReader(ctx, tx))
	if err != nil {
		return tlog.Hash{}, fmt.Errorf("hash of the log of size %d: %w", n, err)
	}
	return h, nil
}

// InclusionProof returns the proof that record index (event index+1) is
// in the log of size size, as tlog.CheckRecord checks it. Bad arguments
// are errors with code EInvalid; a size beyond the log, ENotFound.
func InclusionProof(ctx context.Context, tx Hashes, index, size int64) (tlog.RecordProof, error) {
	if index < 0 || size < 1 || index >= size {
		return nil, dc.Errorf(dc.EInvalid, "no inclusion proof of index %d in a log of size %d: need 0 ≤ index < size", index, size)
	}
	p, err := tlog.ProveRecord(size, index, HashReader(ctx, tx))
	if err != nil {
		return nil, fmt.Errorf("inclusion proof of %d in %d: %w", index, size, err)
	}
	return p, nil
}

// ConsistencyProof returns the proof that the log of size from is a
// prefix of the log of size to, as tlog.CheckTree checks it. It is empty
// when from is 0 (every log extends the empty one) or from equals to. Bad
// arguments are errors with code EInvalid; a size beyond the log,
// ENotFound.
func ConsistencyProof(ctx context.Context, tx Hashes, from, to int64) (tlog.TreeProof, error) {
	if from < 0 || from > to {
		return nil, dc.Errorf(dc.EInvalid, "no consistency proof from size %d to size %d: need 0 ≤ from ≤ to", from, to)
	}
	if from == 0 {
		return tlog.TreeProof{}, nil
	}
	p, err := tlog.ProveTree(to, from, HashReader(ctx, tx))
	if err != nil {
		return nil, fmt.Errorf("consistency proof from %d to %d: %w", from, to, err)
	}
	return p, nil
}
