package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/deconflict/deconflict"
)

var _ deconflict.FederationTx = (*tx)(nil)

// Peers lists the peers in the order they were added.
func (t *tx) Peers(ctx context.Context) ([]*deconflict.Peer, error) {
	return t.shared.Peers(ctx, "rowid")
}

// peerRows is how many rows one INSERT of a peer's hashes or entries
// carries.
const peerRows = 100

// PutPeerHashes stores hashes of a peer's log; EExists if one is there.
func (t *tx) PutPeerHashes(ctx context.Context, peer string, start int64, hashes [][32]byte) error {
	for len(hashes) > 0 {
		n := min(len(hashes), peerRows)
		args := make([]any, 0, 3*n)
		for i, h := range hashes[:n] {
			args = append(args, peer, start+int64(i), h[:])
		}
		q := "INSERT INTO peer_hashes (peer, idx, hash) VALUES " + strings.TrimSuffix(strings.Repeat("(?, ?, ?), ", n), ", ")
		if _, err := t.exec(ctx, q, args...); err != nil {
			if isConstraint(err) {
				return deconflict.Errorf(deconflict.EExists, "a peer log hash from storage index %d exists", start)
			}
			return fmt.Errorf("insert peer log hashes: %w", err)
		}
		hashes, start = hashes[n:], start+int64(n)
	}
	return nil
}

// PeerHashes returns the hashes of a peer's log at the storage indexes.
func (t *tx) PeerHashes(ctx context.Context, peer string, indexes []int64) ([][32]byte, error) {
	out := make([][32]byte, len(indexes))
	for i, idx := range indexes {
		var b []byte
		err := t.queryRow(ctx, "SELECT hash FROM peer_hashes WHERE peer = ? AND idx = ?", peer, idx).Scan(&b)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && len(b) != 32) {
			return nil, deconflict.Errorf(deconflict.ENotFound, "no peer log hash at storage index %d", idx)
		} else if err != nil {
			return nil, fmt.Errorf("select peer log hash: %w", err)
		}
		copy(out[i][:], b)
	}
	return out, nil
}

// PutPeerEntries stores entries of a peer's log, keeping any already
// stored at the same index.
func (t *tx) PutPeerEntries(ctx context.Context, peer string, entries []deconflict.PeerEntry) error {
	for len(entries) > 0 {
		n := min(len(entries), peerRows)
		args := make([]any, 0, 4*n)
		for _, e := range entries[:n] {
			args = append(args, peer, e.Index, e.LeafHash[:], e.Data)
		}
		q := "INSERT INTO peer_entries (peer, idx, leaf_hash, data) VALUES " +
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?), ", n), ", ") + " ON CONFLICT DO NOTHING"
		if _, err := t.exec(ctx, q, args...); err != nil {
			return fmt.Errorf("insert peer entries: %w", err)
		}
		entries = entries[n:]
	}
	return nil
}

// AddPeerAlert stores an alert and sets its ID.
func (t *tx) AddPeerAlert(ctx context.Context, a *deconflict.PeerAlert) error {
	doc, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode peer alert: %w", err)
	}
	res, err := t.exec(ctx, "INSERT INTO peer_alerts (peer, doc) VALUES (?, ?)", a.Peer, string(doc))
	if err != nil {
		return fmt.Errorf("insert peer alert: %w", err)
	}
	a.ID, err = res.LastInsertId()
	return err
}
