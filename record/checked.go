package record

import (
	"context"
	"errors"
	"fmt"

	dc "github.com/deconflict/deconflict"
	"golang.org/x/mod/sumdb/tlog"
)

// ErrIntegrity marks an error that shows the stored log is not what was
// appended to it: a stored hash that does not match the hashes below it
// or its entry, or a proof that does not lead to the tree hash. Such a
// log must not be served as the truth (see Checked).
var ErrIntegrity = errors.New("integrity alarm")

// Checked returns a Log that reads l and checks every stored hash it
// gives against what it was made from, before giving it: a hash of level
// 1 or more against the two hashes below it (tlog.NodeHash), a leaf hash
// against its event's bytes (tlog.RecordHash of EntryBytes). A mismatch is
// an error wrapping ErrIntegrity.
//
// A proof or a tree hash built from a Checked log therefore never rests
// on a stored hash that was changed after it was written (a flipped bit on
// disk, an edit of the hash table): each hash it reads is recomputed from
// the level below, so a single damaged hash among those read or their
// children is found. It costs one more read of hashes a read (and one
// read of an event for each leaf hash read).
func Checked(l Log) Log { return checkedLog{l} }

type checkedLog struct{ l Log }

func (c checkedLog) Events(ctx context.Context, after int64, limit int) ([]*dc.Event, error) {
	return c.l.Events(ctx, after, limit)
}

func (c checkedLog) LogHashes(ctx context.Context, indexes []int64) ([][32]byte, error) {
	hs, err := c.l.LogHashes(ctx, indexes)
	if err != nil {
		return nil, err
	}
	if len(hs) != len(indexes) {
		return nil, fmt.Errorf("log hashes: asked for %d, got %d", len(indexes), len(hs))
	}
	var children []int64
	for _, idx := range indexes {
		level, n := tlog.SplitStoredHashIndex(idx)
		if level > 0 {
			children = append(children, tlog.StoredHashIndex(level-1, 2*n), tlog.StoredHashIndex(level-1, 2*n+1))
		}
	}
	var below [][32]byte
	if len(children) > 0 {
		if below, err = c.l.LogHashes(ctx, children); err != nil {
			return nil, fmt.Errorf("log hashes below %v: %w", indexes, err)
		}
		if len(below) != len(children) {
			return nil, fmt.Errorf("log hashes: asked for %d, got %d", len(children), len(below))
		}
	}
	for i, idx := range indexes {
		level, n := tlog.SplitStoredHashIndex(idx)
		if level > 0 {
			if tlog.NodeHash(tlog.Hash(below[0]), tlog.Hash(below[1])) != tlog.Hash(hs[i]) {
				return nil, fmt.Errorf("%w: the stored hash of level %d, node %d (storage index %d) is not the hash of the two below it", ErrIntegrity, level, n, idx)
			}
			below = below[2:]
			continue
		}
		evs, err := c.l.Events(ctx, n, 1)
		if err != nil {
			return nil, fmt.Errorf("event of log entry %d: %w", n, err)
		}
		if len(evs) != 1 || evs[0].Seq != n+1 {
			return nil, fmt.Errorf("%w: log entry %d has a stored hash but no event %d", ErrIntegrity, n, n+1)
		}
		if tlog.RecordHash(EntryBytes(evs[0])) != tlog.Hash(hs[i]) {
			return nil, fmt.Errorf("%w: the stored hash of log entry %d is not the hash of event %d", ErrIntegrity, n, n+1)
		}
	}
	return hs, nil
}

// CheckedInclusionProof returns the proof that entry index is in the log
// of size size, with the tree hash it leads to, after checking it: built
// from Checked(l), and verified with tlog.CheckRecord from the leaf hash
// of the entry's event to the tree hash. A proof that does not verify is
// an error wrapping ErrIntegrity.
func CheckedInclusionProof(ctx context.Context, l Log, index, size int64) (tlog.RecordProof, tlog.Hash, error) {
	cl := Checked(l)
	p, err := InclusionProof(ctx, cl, index, size)
	if err != nil {
		return nil, tlog.Hash{}, err
	}
	root, err := TreeHash(ctx, cl, size)
	if err != nil {
		return nil, tlog.Hash{}, err
	}
	evs, err := l.Events(ctx, index, 1)
	if err != nil {
		return nil, tlog.Hash{}, fmt.Errorf("event of log entry %d: %w", index, err)
	}
	if len(evs) != 1 || evs[0].Seq != index+1 {
		return nil, tlog.Hash{}, fmt.Errorf("%w: log entry %d has no event %d", ErrIntegrity, index, index+1)
	}
	if err := tlog.CheckRecord(p, size, root, index, tlog.RecordHash(EntryBytes(evs[0]))); err != nil {
		return nil, tlog.Hash{}, fmt.Errorf("%w: the inclusion proof of entry %d in the log of %d does not verify: %v", ErrIntegrity, index, size, err)
	}
	return p, root, nil
}

// CheckedConsistencyProof returns the proof that the log of size from is
// a prefix of the log of size to, after checking it: built from
// Checked(l), and verified with tlog.CheckTree between the two tree
// hashes. A proof that does not verify is an error wrapping ErrIntegrity.
func CheckedConsistencyProof(ctx context.Context, l Log, from, to int64) (tlog.TreeProof, error) {
	cl := Checked(l)
	p, err := ConsistencyProof(ctx, cl, from, to)
	if err != nil || from == 0 {
		return p, err
	}
	oldRoot, err := TreeHash(ctx, cl, from)
	if err != nil {
		return nil, err
	}
	newRoot, err := TreeHash(ctx, cl, to)
	if err != nil {
		return nil, err
	}
	if err := tlog.CheckTree(p, to, newRoot, from, oldRoot); err != nil {
		return nil, fmt.Errorf("%w: the consistency proof from %d to %d does not verify: %v", ErrIntegrity, from, to, err)
	}
	return p, nil
}

// CheckProofs checks the proofs of a bundle just built, before it is
// served: the checkpoint opens with the bundle's key, and every entry's
// inclusion proof leads from its leaf hash (the hash of its data, when
// shown) to the checkpoint's tree hash (tlog.CheckRecord). A failure is
// an error wrapping ErrIntegrity. Verify checks all that and more, for
// the receiver.
func CheckProofs(b *Bundle) error {
	_, tree, err := parseCheckpoint([]byte(b.Checkpoint), false, []string{b.Key})
	if err != nil {
		return fmt.Errorf("%w: the bundle's checkpoint does not open with its key: %v", ErrIntegrity, err)
	}
	for i := range b.Entries {
		en := &b.Entries[i]
		if !en.Withheld() && tlog.RecordHash([]byte(en.Data)) != en.LeafHash {
			return fmt.Errorf("%w: %s: its data does not hash to its leaf hash", ErrIntegrity, where(i, en))
		}
		if err := tlog.CheckRecord(en.Proof, tree.N, tree.Hash, en.Index, en.LeafHash); err != nil {
			return fmt.Errorf("%w: %s: its inclusion proof does not lead to the checkpoint's tree hash: %v", ErrIntegrity, where(i, en), err)
		}
	}
	return nil
}

// CheckEntries checks that each of evs, consecutive events of the log,
// hashes to the leaf hash stored for it when it was appended, reading
// those leaf hashes in one call. An event changed in the store since (or
// a damaged leaf hash) is an error wrapping ErrIntegrity: the entry must
// not be served with a leaf hash made up from what the store now holds.
func CheckEntries(ctx context.Context, tx Hashes, evs []*dc.Event) error {
	if len(evs) == 0 {
		return nil
	}
	idx := make([]int64, len(evs))
	for i, e := range evs {
		idx[i] = tlog.StoredHashIndex(0, e.Seq-1)
	}
	hs, err := tx.LogHashes(ctx, idx)
	if err != nil {
		return fmt.Errorf("leaf hashes of log entries %d to %d: %w", evs[0].Seq-1, evs[len(evs)-1].Seq-1, err)
	}
	if len(hs) != len(idx) {
		return fmt.Errorf("log hashes: asked for %d, got %d", len(idx), len(hs))
	}
	for i, e := range evs {
		if tlog.RecordHash(EntryBytes(e)) != tlog.Hash(hs[i]) {
			return fmt.Errorf("%w: event %d as stored does not hash to the leaf hash stored for log entry %d", ErrIntegrity, e.Seq, e.Seq-1)
		}
	}
	return nil
}
