package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/deconflict/deconflict"
)

var _ deconflict.FederationTx = (*tx)(nil)

// Peers lists the peers in the order they were added.
func (t *tx) Peers(ctx context.Context) ([]*deconflict.Peer, error) {
	return t.shared.Peers(ctx, "pos")
}

// PutPeerHashes stores hashes of a peer's log; EExists if one is there.
func (t *tx) PutPeerHashes(ctx context.Context, peer string, start int64, hashes [][32]byte) error {
	if len(hashes) == 0 {
		return nil
	}
	bs := make([][]byte, len(hashes))
	for i := range hashes {
		bs[i] = hashes[i][:]
	}
	_, err := t.exec(ctx, `INSERT INTO peer_hashes (peer, idx, hash)
		SELECT $1, $2 + o - 1, h FROM unnest($3::bytea[]) WITH ORDINALITY AS u(h, o)`, peer, start, bs)
	if isUniqueViolation(err) {
		return deconflict.Errorf(deconflict.EExists, "a peer log hash from storage index %d exists", start)
	} else if err != nil {
		return fmt.Errorf("insert peer log hashes: %w", err)
	}
	return nil
}

// PeerHashes returns the hashes of a peer's log at the storage indexes.
func (t *tx) PeerHashes(ctx context.Context, peer string, indexes []int64) ([][32]byte, error) {
	rows, err := t.query(ctx, "SELECT idx, hash FROM peer_hashes WHERE peer = $1 AND idx = ANY($2)", peer, indexes)
	if err != nil {
		return nil, fmt.Errorf("select peer log hashes: %w", err)
	}
	defer rows.Close()
	got := map[int64][]byte{}
	for rows.Next() {
		var idx int64
		var h []byte
		if err := rows.Scan(&idx, &h); err != nil {
			return nil, fmt.Errorf("select peer log hashes: %w", err)
		}
		got[idx] = h
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([][32]byte, len(indexes))
	for i, idx := range indexes {
		h, ok := got[idx]
		if !ok || len(h) != 32 {
			return nil, deconflict.Errorf(deconflict.ENotFound, "no peer log hash at storage index %d", idx)
		}
		copy(out[i][:], h)
	}
	return out, nil
}

// PutPeerEntries stores entries of a peer's log, keeping any already
// stored at the same index.
func (t *tx) PutPeerEntries(ctx context.Context, peer string, entries []deconflict.PeerEntry) error {
	if len(entries) == 0 {
		return nil
	}
	idx := make([]int64, len(entries))
	leaf := make([][]byte, len(entries))
	data := make([][]byte, len(entries))
	for i, e := range entries {
		idx[i], leaf[i], data[i] = e.Index, e.LeafHash[:], e.Data
	}
	if _, err := t.exec(ctx, `INSERT INTO peer_entries (peer, idx, leaf_hash, data)
		SELECT $1, i, l, d FROM unnest($2::bigint[], $3::bytea[], $4::bytea[]) AS u(i, l, d)
		ON CONFLICT DO NOTHING`, peer, idx, leaf, data); err != nil {
		return fmt.Errorf("insert peer entries: %w", err)
	}
	return nil
}

// AddPeerAlert stores an alert and sets its ID.
func (t *tx) AddPeerAlert(ctx context.Context, a *deconflict.PeerAlert) error {
	doc, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode peer alert: %w", err)
	}
	if err := t.queryRow(ctx, "INSERT INTO peer_alerts (peer, doc) VALUES ($1, $2) RETURNING id", a.Peer, string(doc)).Scan(&a.ID); err != nil {
		return fmt.Errorf("insert peer alert: %w", err)
	}
	return nil
}
