package mechanism

import (
	"context"
	"fmt"
	"strings"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/record"
	"golang.org/x/mod/sumdb/tlog"
)

// Record is the part of the mechanism that serves its signed, append-only
// log: the checkpoint, the signing keys and their rotation, the entries a
// party may read, inclusion and consistency proofs, and the evidence
// bundle for one operation. It is a view over the same Mechanism, kept as
// its own type so the record's surface can be read alone.
type Record struct{ m *Mechanism }

// Record returns the record view of m.
func (m *Mechanism) Record() Record { return Record{m: m} }

// DefaultOrigin names the log of a mechanism whose store was initialised
// without a name.
const DefaultOrigin = "deconflict"

// keySuffix separates the origin from a key's number in key names
// ("deconflict-k1", "deconflict-k2" after a rotation).
const keySuffix = "-k"

// ensureKey creates the first signing key when the store has none. It
// runs when the mechanism loads, so a new store gets its key at once.
func (m *Mechanism) ensureKey(ctx context.Context) error {
	return m.store.Update(ctx, func(tx dc.Tx) error {
		keys, err := tx.Keys(ctx)
		if err != nil || len(keys) > 0 {
			return err
		}
		k, err := record.NewKey(m.origin+keySuffix+"1", m.Now())
		if err != nil {
			return err
		}
		return tx.PutKey(ctx, k)
	})
}

// activeKeys returns the keys that sign now (the newest not retired).
func activeKeys(keys []*dc.SigningKey) []*dc.SigningKey {
	for i := len(keys) - 1; i >= 0; i-- {
		if keys[i].RetiredAt == nil {
			return []*dc.SigningKey{keys[i]}
		}
	}
	return nil
}

// originOf reads the origin from the first key's name.
func originOf(keys []*dc.SigningKey) string {
	if len(keys) == 0 {
		return DefaultOrigin
	}
	name := keys[0].Name
	if i := strings.LastIndex(name, keySuffix); i > 0 {
		return name[:i]
	}
	return name
}

// Checkpoint returns the signed checkpoint of the whole log. The stored
// hashes its tree hash rests on are checked first (record.Checked): a
// damaged one raises the integrity alarm rather than being signed.
func (r Record) Checkpoint(ctx context.Context) ([]byte, error) {
	m := r.m
	var out []byte
	err := m.store.View(ctx, func(tx dc.Tx) error {
		n, err := tx.LastSeq(ctx)
		if err != nil {
			return err
		}
		keys, err := tx.Keys(ctx)
		if err != nil {
			return err
		}
		out, err = record.Checkpoint(ctx, record.Checked(tx), originOf(keys), n, activeKeys(keys))
		return err
	})
	return out, m.integrity.check(ctx, "the log's checkpoint", err)
}

// Keys returns the public halves of every signing key, oldest first.
func (r Record) Keys(ctx context.Context) ([]*dc.SigningKey, error) {
	m := r.m
	var keys []*dc.SigningKey
	err := m.store.View(ctx, func(tx dc.Tx) (err error) {
		keys, err = tx.Keys(ctx)
		return err
	})
	for i, k := range keys {
		pub := *k
		pub.Signer = ""
		keys[i] = &pub
	}
	return keys, err
}

// RotateKey makes a new signing key and retires the one in use; the old
// key still verifies the checkpoints it signed.
func (r Record) RotateKey(ctx context.Context) (*dc.SigningKey, error) {
	m := r.m
	var k *dc.SigningKey
	err := m.store.Update(ctx, func(tx dc.Tx) error {
		keys, err := tx.Keys(ctx)
		if err != nil {
			return err
		}
		now := m.Now()
		for _, old := range keys {
			if old.RetiredAt == nil {
				old.RetiredAt = &now
				if err := tx.PutKey(ctx, old); err != nil {
					return err
				}
			}
		}
		if k, err = record.NewKey(fmt.Sprintf("%s%s%d", originOf(keys), keySuffix, len(keys)+1), now); err != nil {
			return err
		}
		return tx.PutKey(ctx, k)
	})
	if err != nil {
		return nil, err
	}
	pub := *k
	pub.Signer = ""
	return &pub, nil
}

// LogEntry is one leaf of the log as a caller sees it: its content only
// if the caller may see the event.
type LogEntry struct {
	Index    int64     `json:"index"`
	LeafHash tlog.Hash `json:"leaf_hash"`
	Data     *string   `json:"data"`
}

// LogEntries returns the leaves [start, end) of the log. Each entry is
// checked against the leaf hash stored when it was appended
// (record.CheckEntries); one that does not match raises the integrity
// alarm rather than being served.
func (r Record) LogEntries(ctx context.Context, a dc.Actor, start, end int64) ([]LogEntry, error) {
	m := r.m
	if start < 0 {
		return nil, dc.FieldErrorf(dc.EInvalid, "start", "start must be 0 or more")
	}
	if end < start {
		return nil, dc.FieldErrorf(dc.EInvalid, "end", "end must not be before start")
	}
	out := []LogEntry{}
	err := m.store.View(ctx, func(tx dc.Tx) error {
		n, err := tx.LastSeq(ctx)
		if err != nil {
			return err
		}
		if end > n {
			return dc.FieldErrorf(dc.EInvalid, "end", "the log has %d entries", n)
		}
		end = min(end, start+1000) // at most 1000 entries an answer
		if end == start {
			return nil
		}
		// Fewer when the entries pass dc.MaxPageBytes: the caller asks
		// again from the last index answered.
		evs, err := tx.EventsWithin(ctx, start, int(end-start), dc.MaxPageBytes)
		if err != nil {
			return err
		}
		if err := record.CheckEntries(ctx, tx, evs); err != nil {
			return err
		}
		for _, e := range evs {
			data := record.EntryBytes(e)
			le := LogEntry{Index: e.Seq - 1, LeafHash: tlog.RecordHash(data)}
			if e.VisibleTo(a) {
				s := string(data)
				le.Data = &s
			}
			out = append(out, le)
		}
		return nil
	})
	if err != nil {
		return nil, m.integrity.check(ctx, fmt.Sprintf("the log entries from %d to %d", start, end), err)
	}
	return out, nil
}

// sizeOf checks a tree size against the log.
func sizeOf(ctx context.Context, tx dc.Tx, field string, size int64) error {
	n, err := tx.LastSeq(ctx)
	if err != nil {
		return err
	}
	if size < 1 || size > n {
		return dc.FieldErrorf(dc.EInvalid, field, "%s must be from 1 to the log size %d", field, n)
	}
	return nil
}

// InclusionProof proves that entry index is in the tree of the given size.
// The proof is checked against the tree hash the checkpoint of that size
// signs, from the entry's own event (record.CheckedInclusionProof); a
// proof that does not verify is never returned but raises the integrity
// alarm.
func (r Record) InclusionProof(ctx context.Context, index, size int64) (tlog.RecordProof, error) {
	m := r.m
	var p tlog.RecordProof
	err := m.store.View(ctx, func(tx dc.Tx) (err error) {
		if err := sizeOf(ctx, tx, "size", size); err != nil {
			return err
		}
		if index < 0 || index >= size {
			return dc.FieldErrorf(dc.EInvalid, "index", "index must be from 0 to size-1")
		}
		p, _, err = record.CheckedInclusionProof(ctx, tx, index, size)
		return err
	})
	return p, m.integrity.check(ctx, fmt.Sprintf("the inclusion proof of entry %d in the log of %d", index, size), err)
}

// ConsistencyProof proves that the tree of size from is a prefix of the
// tree of size to. The proof is checked between the two tree hashes
// (record.CheckedConsistencyProof); one that does not verify raises the
// integrity alarm.
func (r Record) ConsistencyProof(ctx context.Context, from, to int64) (tlog.TreeProof, error) {
	m := r.m
	var p tlog.TreeProof
	err := m.store.View(ctx, func(tx dc.Tx) (err error) {
		if err := sizeOf(ctx, tx, "to", to); err != nil {
			return err
		}
		if from < 1 || from > to {
			return dc.FieldErrorf(dc.EInvalid, "from", "from must be from 1 to to")
		}
		p, err = record.CheckedConsistencyProof(ctx, tx, from, to)
		return err
	})
	return p, m.integrity.check(ctx, fmt.Sprintf("the consistency proof from %d to %d", from, to), err)
}

// Evidence returns the evidence bundle of an operation: every log entry
// about it with inclusion proofs against one signed checkpoint. Entries
// the actor may not see are present by hash only. On a federation node it
// also carries the peers' cosignatures of the log and the proofs of
// their receipts (addNodeReceiptProofs). Every stored hash it
// reads is checked (record.Checked) and its proofs are verified before it
// is returned (record.CheckProofs); a failure is an integrity alarm.
//
// A bundle scans the whole log (seconds on a log of hundreds of thousands
// of entries), so bundles are built one at a time, and the log is read a
// page per short transaction (storeLog) rather than in one transaction
// held for the whole scan, which would keep SQLite's WAL from being reset
// and a reader connection busy meanwhile.
func (r Record) Evidence(ctx context.Context, a dc.Actor, opID string) (*record.Bundle, error) {
	m := r.m
	select {
	case m.evidence <- struct{}{}:
		defer func() { <-m.evidence }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	var (
		n         int64
		keys      []*dc.SigningKey
		witnesses []record.PeerWitness
	)
	err := m.store.View(ctx, func(tx dc.Tx) (err error) {
		if _, err := tx.Operation(ctx, opID); dc.ErrorCode(err) == dc.ENotFound {
			return dc.Errorf(dc.ENotFound, "no operation %s", opID)
		} else if err != nil {
			return err
		}
		if n, err = tx.LastSeq(ctx); err != nil {
			return err
		}
		if keys, err = tx.Keys(ctx); err != nil {
			return err
		}
		witnesses, err = peerWitnesses(ctx, tx)
		return err
	})
	if err != nil {
		return nil, err
	}
	b, err := record.BuildBundle(ctx, record.Checked(storeLog{m.store}), originOf(keys), n, activeKeys(keys), opID, func(e *dc.Event) bool { return e.VisibleTo(a) })
	if err == nil {
		err = record.CheckProofs(b)
	}
	if err == nil && len(witnesses) > 0 {
		err = record.AddWitnessed(ctx, storeLog{m.store}, b, activeKeys(keys), witnesses)
	}
	if err == nil {
		err = m.addNodeReceiptProofs(ctx, b)
	}
	if err != nil {
		return nil, m.integrity.check(ctx, "the evidence bundle of operation "+opID, err)
	}
	return b, nil
}

// storeLog reads the log's events and hashes each in a read transaction
// of its own (record.Log): what the log holds up to a size never changes.
type storeLog struct{ store dc.Store }

func (l storeLog) Events(ctx context.Context, after int64, limit int) (evs []*dc.Event, err error) {
	err = l.store.View(ctx, func(tx dc.Tx) (err error) {
		evs, err = tx.Events(ctx, after, limit)
		return err
	})
	return evs, err
}

func (l storeLog) LogHashes(ctx context.Context, indexes []int64) (hs [][32]byte, err error) {
	err = l.store.View(ctx, func(tx dc.Tx) (err error) {
		hs, err = tx.LogHashes(ctx, indexes)
		return err
	})
	return hs, err
}
