package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/storeval"
	"github.com/jackc/pgx/v5"
)

var _ deconflict.Prefetcher = (*tx)(nil)

// recentHashes is how many of the last log hashes Prefetch reads. The
// next append to a Merkle log of n records needs the roots of the complete
// subtrees at its right edge, one per trailing 1 bit of n; all but those
// of the rare tall ones were stored among the last few dozen hashes, so
// the append's read (LogHashes) is mostly answered by the prefetch. Hashes
// never change once stored.
const recentHashes = 128

// prefetched holds what Prefetch read: rows as stored, decoded afresh on
// every read, so that a caller that changes what it got changes nothing
// here. An entry is dropped when the transaction writes what it holds,
// and the next read then asks the database: the transaction reads back
// what it wrote, as without a prefetch.
type prefetched struct {
	ops      map[string]*operationRow // nil: read, and there is none
	settings *string                  // the settings document; nil if none stored
	parties  []partyRow
	// since holds the operations with a rev above sinceRev, in the
	// order OperationsSince walks them, if there were at most sinceBatch
	// (sinceOK); sinceOK is cleared when the transaction writes an
	// operation, after which OperationsSince reads them again.
	since    []operationRow
	sinceRev int64
	sinceOK  bool
	// maxHash is the highest storage index of a log hash stored, -1 if
	// none: under the write lock, hashes stored past it cannot clash
	// with any but the transaction's own (PutLogHashes).
	maxHash int64
	// loaded: the reads were answered. Which of settings and parties
	// still hold what was read.
	loaded, haveSettings, haveParties bool
}

type operationRow struct {
	seq, rev, start, end int64
	doc                  string
}

type partyRow struct {
	id, name string
	created  int64
	keys     string
}

// Prefetch queues the reads of the operations with the IDs, those changed
// since rev changedSince, the settings, the parties and the last log
// hashes, to go with the next statement (see later): under the write
// lock, if this is a write transaction that has not sent its first
// statement yet. It must be called before any of them is read.
func (t *tx) Prefetch(operationIDs []string, changedSince int64) {
	p := &prefetched{ops: make(map[string]*operationRow, len(operationIDs)), sinceRev: changedSince}
	for _, id := range operationIDs {
		p.ops[id] = nil
	}
	t.pre = p
	t.pending = append(t.pending,
		queued{what: "prefetch operations", query: "SELECT id, " + storeval.OperationColumns + " FROM operations WHERE id = ANY($1)",
			args: []any{operationIDs}, read: func(rows pgx.Rows) error {
				for rows.Next() {
					var id string
					var r operationRow
					if err := rows.Scan(&id, &r.seq, &r.rev, &r.start, &r.end, &r.doc); err != nil {
						return err
					}
					p.ops[id] = &r
				}
				return rows.Err()
			}},
		queued{what: "prefetch the operations changed since", query: "SELECT " + storeval.OperationColumns + " FROM operations WHERE rev > $1 ORDER BY rev, seq LIMIT $2",
			args: []any{changedSince, sinceBatch + 1}, read: func(rows pgx.Rows) error {
				for rows.Next() {
					var r operationRow
					if err := rows.Scan(&r.seq, &r.rev, &r.start, &r.end, &r.doc); err != nil {
						return err
					}
					p.since = append(p.since, r)
				}
				p.sinceOK = rows.Err() == nil && len(p.since) <= sinceBatch
				return rows.Err()
			}},
		queued{what: "prefetch settings", query: "SELECT doc FROM settings WHERE id = 1", read: func(rows pgx.Rows) error {
			for rows.Next() {
				var doc string
				if err := rows.Scan(&doc); err != nil {
					return err
				}
				p.settings = &doc
			}
			p.haveSettings = rows.Err() == nil
			return rows.Err()
		}},
		queued{what: "prefetch the last log hashes", query: "SELECT idx, hash FROM log_hashes ORDER BY idx DESC LIMIT $1",
			args: []any{recentHashes}, read: func(rows pgx.Rows) error {
				p.maxHash = -1
				for rows.Next() {
					var idx int64
					var h []byte
					if err := rows.Scan(&idx, &h); err != nil {
						return err
					}
					if len(h) != 32 {
						return fmt.Errorf("hash at storage index %d has %d bytes", idx, len(h))
					}
					p.maxHash = max(p.maxHash, idx)
					t.keepHashes(idx, [][32]byte{[32]byte(h)})
				}
				return rows.Err()
			}},
		queued{what: "prefetch parties", query: "SELECT " + storeval.PartyColumns + " FROM parties ORDER BY seq", read: func(rows pgx.Rows) error {
			for rows.Next() {
				var r partyRow
				if err := rows.Scan(&r.id, &r.name, &r.created, &r.keys); err != nil {
					return err
				}
				p.parties = append(p.parties, r)
			}
			p.haveParties = rows.Err() == nil
			p.loaded = rows.Err() == nil
			return rows.Err()
		}},
	)
}

// prefetchLoaded reports whether the prefetch was read, for tests.
func (t *tx) prefetchLoaded() bool { return t.pre != nil && t.pre.loaded }

// prefetchedOperation answers Operation from the prefetch, if it read id.
func (t *tx) prefetchedOperation(id string) (*deconflict.Operation, bool, error) {
	if t.pre == nil || !t.pre.loaded {
		return nil, false, nil // nothing prefetched, or not read yet
	}
	r, ok := t.pre.ops[id]
	switch {
	case !ok:
		return nil, false, nil
	case r == nil:
		return nil, true, deconflict.Errorf(deconflict.ENotFound, "operation %q not found", id)
	}
	op, _, err := storeval.ScanOperation(rowOf{r.seq, r.rev, r.start, r.end, r.doc})
	if err != nil {
		return nil, true, fmt.Errorf("select operation %s: %w", id, err)
	}
	return op, true, nil
}

// prefetchedSettings answers Settings from the prefetch, if it read them.
func (t *tx) prefetchedSettings() (deconflict.Settings, bool, error) {
	if t.pre == nil || !t.pre.loaded || !t.pre.haveSettings {
		return deconflict.Settings{}, false, nil
	}
	if t.pre.settings == nil {
		return deconflict.DefaultSettings(), true, nil
	}
	var s deconflict.Settings
	if err := json.Unmarshal([]byte(*t.pre.settings), &s); err != nil {
		return deconflict.Settings{}, true, fmt.Errorf("decode settings: %w", err)
	}
	return s, true, nil
}

// prefetchedParties answers Parties from the prefetch, if it read them.
func (t *tx) prefetchedParties() ([]*deconflict.Party, bool, error) {
	if t.pre == nil || !t.pre.loaded || !t.pre.haveParties {
		return nil, false, nil
	}
	var out []*deconflict.Party
	for _, r := range t.pre.parties {
		p, err := storeval.ScanParty(rowOf{r.id, r.name, r.created, r.keys})
		if err != nil {
			return nil, true, fmt.Errorf("select parties: %w", err)
		}
		out = append(out, p)
	}
	return out, true, nil
}

// hashesPastStored reports whether log hashes from storage index start
// on can be stored without asking whether they clash: the transaction
// holds the write lock, the prefetch read the highest index stored, and
// start is past it and past every hash the transaction stored since.
// Under the write lock nobody else stores hashes.
func (t *tx) hashesPastStored(start int64) bool {
	return t.write && t.pre != nil && t.pre.loaded && start > t.pre.maxHash
}

// storedHashesTo records that the transaction stored hashes up to index
// last.
func (t *tx) storedHashesTo(last int64) {
	if t.pre != nil {
		t.pre.maxHash = max(t.pre.maxHash, last)
	}
}

// forget drops what the prefetch holds of what the transaction is about
// to write: the operation with the ID, the settings, or the parties.
func (t *tx) forgetOperation(id string) {
	if t.pre != nil {
		delete(t.pre.ops, id)
		t.pre.sinceOK = false
	}
}

// prefetchedSince walks the operations changed since rev from the
// prefetch, as OperationsSince(rev, any state) would, if the prefetch
// read them all and the transaction wrote no operation since. Should fn
// write one, the rest of the walk reads the operations again, as they
// then are. It reports whether it walked.
func (t *tx) prefetchedSince(ctx context.Context, rev int64, liveOnly bool, fn func(*deconflict.Operation) error) (bool, error) {
	p := t.pre
	if p == nil || !p.loaded || !p.sinceOK || liveOnly || rev != p.sinceRev {
		return false, nil
	}
	rows := p.since
	for i, r := range rows {
		if !p.sinceOK {
			// fn wrote an operation: the rest as it now is.
			seqs := make([]int64, 0, len(rows)-i)
			for _, r := range rows[i:] {
				seqs = append(seqs, r.seq)
			}
			return true, t.walkSeqs(ctx, seqs, sinceCond(false), rev, fn)
		}
		op, _, err := storeval.ScanOperation(rowOf{r.seq, r.rev, r.start, r.end, r.doc})
		if err != nil {
			return true, fmt.Errorf("select operations since %d: %w", rev, err)
		}
		if err := fn(op); err != nil {
			return true, err
		}
	}
	return true, nil
}

func (t *tx) forgetSettings() {
	if t.pre != nil {
		t.pre.haveSettings = false
	}
}

func (t *tx) forgetParties() {
	if t.pre != nil {
		t.pre.haveParties = false
	}
}

// rowOf is a pgx.Row of values already read, for the scan functions.
type rowOf []any

func (r rowOf) Scan(dest ...any) error {
	if len(dest) != len(r) {
		return errors.New("rowOf: wrong number of columns")
	}
	for i, d := range dest {
		switch d := d.(type) {
		case *int64:
			*d = r[i].(int64)
		case *string:
			*d = r[i].(string)
		default:
			return fmt.Errorf("rowOf: cannot scan into %T", d)
		}
	}
	return nil
}
