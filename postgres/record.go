package postgres

import (
	"context"
	"fmt"
	"math"

	"github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/storeval"
)

// putLogHashesQuery stores the hashes $3 at the storage indexes $1,
// $1+1, … $2, unless one of those indexes has a hash: then it stores none
// and returns the lowest such index. One statement, one round trip, and
// no error for a clash: PostgreSQL aborts a transaction on any error, and
// after EExists the transaction goes on.
const putLogHashesQuery = `WITH clash AS (
		SELECT min(idx) AS idx FROM log_hashes WHERE idx BETWEEN $1 AND $2
	), ins AS (
		INSERT INTO log_hashes (idx, hash)
		SELECT $1 + u.ord - 1, u.hash FROM unnest($3::bytea[]) WITH ORDINALITY AS u(hash, ord)
		WHERE (SELECT idx FROM clash) IS NULL
	)
	SELECT idx FROM clash`

// logHashRows stores hashes at storage indexes where PutLogHashes knows
// none is stored.
var logHashRows = newRowTable("log_hashes", []string{"idx bigint", "hash bytea"}, "")

// PutLogHashes stores the hashes at the storage indexes start,
// start+1, …; EExists, naming the lowest, if any of them has a hash, and
// then it stores none of them and the transaction goes on.
func (t *tx) PutLogHashes(ctx context.Context, start int64, hashes [][32]byte) error {
	if start < 0 || int64(len(hashes)) > math.MaxInt64-start {
		return deconflict.Errorf(deconflict.EInvalid, "log hashes from storage index %d: out of range", start)
	}
	if len(hashes) == 0 {
		return nil
	}
	last := start + int64(len(hashes)) - 1
	bs := make([][]byte, len(hashes))
	for i := range hashes {
		bs[i] = hashes[i][:]
	}
	for i := range hashes {
		if _, ok := t.hashes[start+int64(i)]; ok {
			return deconflict.Errorf(deconflict.EExists, "log hash at storage index %d exists", start+int64(i))
		}
	}
	if t.hashesPastStored(start) {
		// Nothing can clash: a plain insert, sent with the next
		// statement. Were a hash there after all, the unique index
		// would fail the transaction rather than let it overwrite.
		for i, h := range bs {
			t.laterRow(fmt.Sprintf("insert log hash %d", start+int64(i)), logHashRows, "", start+int64(i), h)
		}
		t.storedHashesTo(last)
		t.keepHashes(start, hashes)
		return nil
	}
	var clash *int64
	err := t.queryRow(ctx, putLogHashesQuery, start, last, bs).Scan(&clash)
	if isUniqueViolation(err) {
		// Only a writer without the write lock could race this far.
		return deconflict.Errorf(deconflict.EExists, "log hash between storage indexes %d and %d exists", start, last)
	} else if err != nil {
		return fmt.Errorf("insert log hashes %d to %d: %w", start, last, err)
	}
	if clash != nil {
		return deconflict.Errorf(deconflict.EExists, "log hash at storage index %d exists", *clash)
	}
	t.storedHashesTo(last)
	t.keepHashes(start, hashes)
	return nil
}

// keepHashes remembers hashes stored (or read) at consecutive storage
// indexes from start, for later reads in the transaction.
func (t *tx) keepHashes(start int64, hashes [][32]byte) {
	if t.hashes == nil {
		t.hashes = make(map[int64][32]byte, 64)
	}
	for i, h := range hashes {
		t.hashes[start+int64(i)] = h
	}
}

// logHashesQuery returns the hash at each index of $1, NULL where there is
// none, in the order of $1.
const logHashesQuery = `SELECT u.idx, h.hash
	FROM unnest($1::bigint[]) WITH ORDINALITY AS u(idx, ord)
	LEFT JOIN log_hashes h ON h.idx = u.idx
	ORDER BY u.ord`

// LogHashes returns the hashes at the storage indexes, in their order (an
// index may be asked for twice); ENotFound, naming the first index asked
// that has none, if any has none. It reads them all in one query.
func (t *tx) LogHashes(ctx context.Context, indexes []int64) ([][32]byte, error) {
	if len(indexes) == 0 {
		return [][32]byte{}, nil
	}
	if hs, ok := t.knownHashes(indexes); ok {
		return hs, nil
	}
	rows, err := t.query(ctx, logHashesQuery, indexes)
	if err != nil {
		return nil, fmt.Errorf("select log hashes: %w", err)
	}
	defer rows.Close()
	hashes := make([][32]byte, 0, len(indexes))
	var missing *int64
	for rows.Next() {
		var idx int64
		var h []byte
		if err := rows.Scan(&idx, &h); err != nil {
			return nil, fmt.Errorf("select log hashes: %w", err)
		}
		switch {
		case h == nil:
			if missing == nil {
				missing = &idx
			}
		case len(h) != 32:
			return nil, fmt.Errorf("select log hashes: hash at storage index %d has %d bytes", idx, len(h))
		}
		var out [32]byte
		copy(out[:], h)
		hashes = append(hashes, out)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("select log hashes: %w", err)
	}
	if missing != nil {
		return nil, deconflict.Errorf(deconflict.ENotFound, "log hash at storage index %d not found", *missing)
	}
	if len(hashes) != len(indexes) {
		return nil, fmt.Errorf("select log hashes: %d rows for %d indexes", len(hashes), len(indexes))
	}
	for i, idx := range indexes {
		t.keepHashes(idx, hashes[i:i+1])
	}
	return hashes, nil
}

// knownHashes answers LogHashes from the hashes the transaction has seen,
// if it has seen them all.
func (t *tx) knownHashes(indexes []int64) ([][32]byte, bool) {
	if t.hashes == nil {
		return nil, false
	}
	out := make([][32]byte, len(indexes))
	for i, idx := range indexes {
		h, ok := t.hashes[idx]
		if !ok {
			return nil, false
		}
		out[i] = h
	}
	return out, true
}

// PutKey stores the signing key, or replaces every field of the one with
// its name, which keeps its place in Keys.
func (t *tx) PutKey(ctx context.Context, k *deconflict.SigningKey) error {
	if _, err := t.exec(ctx, `INSERT INTO signing_keys (seq, `+storeval.KeyColumns+`)
		VALUES ((SELECT coalesce(max(seq), 0) + 1 FROM signing_keys), $1, $2, $3, $4, $5)
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
