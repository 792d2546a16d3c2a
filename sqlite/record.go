package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/storeval"
)

// The hashes of the Merkle log are written and read up to maxLogRows at a
// time, in one statement: a declaration stores a few hashes and reads a
// few dozen at most, so it runs one INSERT and one SELECT, each prepared
// once per transaction.
const maxLogRows = 64

// putLogQueries[n] inserts n hashes. logHashesQueries[n] reads n, as one
// row of n columns, each the hash at one index or NULL: a third faster
// than a row per hash (WHERE idx IN (…)) for two, and still faster for 30.
var putLogQueries, logHashesQueries = func() (put, get [maxLogRows + 1]string) {
	for n := 1; n <= maxLogRows; n++ {
		put[n] = "INSERT INTO log_hashes (idx, hash) VALUES " +
			strings.TrimSuffix(strings.Repeat("(?, ?), ", n), ", ")
		get[n] = "SELECT " +
			strings.TrimSuffix(strings.Repeat("(SELECT hash FROM log_hashes WHERE idx = ?), ", n), ", ")
	}
	return put, get
}()

// firstLogHashQuery finds the lowest index of a range that has a hash.
const firstLogHashQuery = "SELECT min(idx) FROM log_hashes WHERE idx BETWEEN ? AND ?"

// PutLogHashes stores the hashes at the storage indexes start,
// start+1, …; EExists, naming the lowest, if any of them has a hash, and
// then it stores none of them and the transaction goes on.
//
// Hashes past the last index the log has (the usual case: an append)
// cannot exist yet, so they wait in memory and are inserted with the
// batch's others before the commit (flushLogHashes): one INSERT a batch
// instead of one an event.
func (t *tx) PutLogHashes(ctx context.Context, start int64, hashes [][32]byte) error {
	if start < 0 || int64(len(hashes)) > math.MaxInt64-start {
		return deconflict.Errorf(deconflict.EInvalid, "log hashes from storage index %d: out of range", start)
	}
	if len(hashes) == 0 {
		return nil
	}
	if t.db != nil {
		return fmt.Errorf("log hashes from storage index %d: not in a read transaction", start)
	}
	last := start + int64(len(hashes)) - 1
	t.tops.appended = true
	top, err := t.logTop(ctx)
	if err != nil {
		return err
	}
	if start > top {
		t.logWait = append(t.logWait, logRun{start: start, hashes: slices.Clone(hashes)})
		t.logLast = last
	} else {
		if err := t.flushLogHashes(ctx); err != nil {
			return err
		}
		if err := t.insertLogHashes(ctx, start, hashes); err != nil {
			return err
		}
		t.logLast = max(t.logLast, last)
	}
	if t.logPut == nil {
		t.logPut = make(map[int64][32]byte)
	}
	for i, h := range hashes {
		t.logPut[start+int64(i)] = h
	}
	return nil
}

// logRun is a run of log hashes from storage index start.
type logRun struct {
	start  int64
	hashes [][32]byte
}

// logTop returns the highest storage index that has a hash, stored or
// waiting (-1 for none); it reads the table once a transaction.
func (t *tx) logTop(ctx context.Context) (int64, error) {
	if !t.logKnown {
		if top, ok := t.keptTop(ctx, func(k *kept) (int64, bool) { return k.logTop, k.haveLogTop }); ok {
			t.logLast, t.logKnown = top, true
			return top, nil
		}
		var top sql.NullInt64
		if err := t.queryRow(ctx, "SELECT max(idx) FROM log_hashes").Scan(&top); err != nil {
			return 0, fmt.Errorf("select the last log hash: %w", err)
		}
		t.logLast, t.logKnown = -1, true
		if top.Valid {
			t.logLast = top.Int64
		}
	}
	return t.logLast, nil
}

// flushLogHashes inserts the hashes PutLogHashes left waiting, up to
// maxLogRows in a statement. None of their indexes had a hash when they
// were put, and no one else writes while this transaction does, so a
// failure here is the store's, not the caller's; the transaction cannot
// commit after it (see tx.fail).
func (t *tx) flushLogHashes(ctx context.Context) error {
	var idx []int64
	var hs [][32]byte
	for _, r := range t.logWait {
		for i, h := range r.hashes {
			idx = append(idx, r.start+int64(i))
			hs = append(hs, h)
		}
	}
	t.logWait = nil
	args := make([]any, 0, 2*min(len(hs), maxLogRows))
	for lo := 0; lo < len(hs); lo += maxLogRows {
		n := min(maxLogRows, len(hs)-lo)
		args = args[:0]
		for i := lo; i < lo+n; i++ {
			args = append(args, idx[i], hs[i][:])
		}
		if _, err := t.exec(ctx, putLogQueries[n], args...); err != nil {
			return t.fail(fmt.Errorf("insert log hashes %d to %d: %w", idx[lo], idx[lo+n-1], err))
		}
	}
	return nil
}

// insertLogHashes stores hashes from start at once; EExists, and none
// stored, if any of their indexes has a hash.
func (t *tx) insertLogHashes(ctx context.Context, start int64, hashes [][32]byte) error {
	last := start + int64(len(hashes)) - 1
	// One INSERT fails or succeeds as a whole. Several would not: check
	// the range before the first.
	if len(hashes) > maxLogRows {
		if err := t.logHashExists(ctx, start, last); err != nil {
			return err
		}
	}
	args := make([]any, 0, 2*min(len(hashes), maxLogRows))
	for lo := 0; lo < len(hashes); lo += maxLogRows {
		chunk := hashes[lo:min(lo+maxLogRows, len(hashes))]
		args = args[:0]
		for i := range chunk {
			args = append(args, start+int64(lo+i), chunk[i][:])
		}
		if _, err := t.exec(ctx, putLogQueries[len(chunk)], args...); err != nil {
			if isConstraint(err) {
				if err := t.logHashExists(ctx, start, last); err != nil {
					return err
				}
			}
			return fmt.Errorf("insert log hashes %d to %d: %w", start, last, err)
		}
	}
	return nil
}

// logHashExists returns EExists, naming the lowest, if any storage index
// from first to last has a hash.
func (t *tx) logHashExists(ctx context.Context, first, last int64) error {
	var idx sql.NullInt64
	if err := t.queryRow(ctx, firstLogHashQuery, first, last).Scan(&idx); err != nil {
		return fmt.Errorf("select log hashes %d to %d: %w", first, last, err)
	}
	if idx.Valid {
		return deconflict.Errorf(deconflict.EExists, "log hash at storage index %d exists", idx.Int64)
	}
	return nil
}

// LogHashes returns the hashes at the storage indexes, in their order (an
// index may be asked for twice); ENotFound, naming the first index asked
// that has none, if any has none.
//
// Hashes this transaction stored are answered from memory: appending an
// entry reads the hashes of the complete subtrees to its left, most of
// them stored by the appends just before it in the same batch, and a
// SELECT per append would cost the single writer a round through SQLite
// for what it already holds.
func (t *tx) LogHashes(ctx context.Context, indexes []int64) ([][32]byte, error) {
	if len(t.logPut) == 0 && t.kept == nil {
		return t.readLogHashes(ctx, indexes)
	}
	hashes := make([][32]byte, len(indexes))
	var at []int // where each hash not yet found goes in hashes
	for i, idx := range indexes {
		if h, ok := t.logPut[idx]; ok {
			hashes[i] = h
		} else {
			at = append(at, i)
		}
	}
	if len(at) > 0 && t.kept != nil {
		at = t.keptHashes(ctx, indexes, hashes, at)
	}
	if len(at) > 0 {
		missing := make([]int64, len(at))
		for j, i := range at {
			missing[j] = indexes[i]
		}
		read, err := t.readLogHashes(ctx, missing)
		if err != nil {
			return nil, err
		}
		for j, i := range at {
			hashes[i] = read[j]
		}
		if t.kept != nil {
			if t.tops.logRead == nil {
				t.tops.logRead = make(map[int64][32]byte, len(missing))
			}
			for j, idx := range missing {
				t.tops.logRead[idx] = read[j]
			}
		}
	}
	return hashes, nil
}

// readLogHashes is LogHashes from the table.
func (t *tx) readLogHashes(ctx context.Context, indexes []int64) ([][32]byte, error) {
	hashes := make([][32]byte, len(indexes))
	n := min(len(indexes), maxLogRows)
	args, dest, raw := make([]any, n), make([]any, n), make([]sql.RawBytes, n)
	for i := range dest {
		dest[i] = &raw[i]
	}
	for lo := 0; lo < len(indexes); lo += maxLogRows {
		chunk := indexes[lo:min(lo+maxLogRows, len(indexes))]
		for i, idx := range chunk {
			args[i] = idx
		}
		if err := t.selectHashes(ctx, "log hash", logHashesQueries[len(chunk)], chunk, args[:len(chunk)], dest[:len(chunk)], raw, hashes[lo:]); err != nil {
			return nil, err
		}
	}
	return hashes, nil
}

// selectHashes runs query, which reads the hashes at the indexes of chunk
// as one row of a column each (logHashesQueries, peerHashesQueries), into
// out, in the same order. args are the query's arguments, dest points at
// the elements of raw, where the row is scanned. what names the hashes
// in errors: a NULL is one not found.
func (t *tx) selectHashes(ctx context.Context, what, query string, chunk []int64, args, dest []any, raw []sql.RawBytes, out [][32]byte) error {
	rows, err := t.query(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("select %ss: %w", what, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return fmt.Errorf("select %ss: %w", what, err)
		}
		return fmt.Errorf("select %ss: no row", what)
	}
	if err := rows.Scan(dest...); err != nil {
		return fmt.Errorf("select %ss: %w", what, err)
	}
	for i, idx := range chunk {
		switch len(raw[i]) {
		case 32:
			copy(out[i][:], raw[i])
		case 0: // NULL: no hash
			return deconflict.Errorf(deconflict.ENotFound, "%s at storage index %d not found", what, idx)
		default:
			return fmt.Errorf("select %ss: hash at storage index %d has %d bytes", what, idx, len(raw[i]))
		}
	}
	return rows.Close()
}

// PutKey stores the signing key, or replaces every field of the one with
// its name, which keeps its place in Keys.
func (t *tx) PutKey(ctx context.Context, k *deconflict.SigningKey) error {
	if _, err := t.exec(ctx, `INSERT INTO signing_keys (seq, `+storeval.KeyColumns+`)
		VALUES ((SELECT coalesce(max(seq), 0) + 1 FROM signing_keys), ?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET verifier = excluded.verifier, signer = excluded.signer,
			created_at = excluded.created_at, retired_at = excluded.retired_at`,
		k.Name, k.Verifier, k.Signer, storeval.Micros(k.CreatedAt), nullMicros(k.RetiredAt)); err != nil {
		return fmt.Errorf("put signing key %s: %w", k.Name, err)
	}
	return nil
}

// Keys returns every signing key, with its signer, in the order they were
// first stored.
func (t *tx) Keys(ctx context.Context) ([]*deconflict.SigningKey, error) {
	ks, err := storeval.List(ctx, t.shared.Q, "SELECT "+storeval.KeyColumns+" FROM signing_keys ORDER BY seq", nil, storeval.ScanKey)
	if err != nil {
		return nil, fmt.Errorf("select signing keys: %w", err)
	}
	return ks, nil
}
