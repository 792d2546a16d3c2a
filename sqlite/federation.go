package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
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

// peerHashesQueries[n] reads n hashes of a peer's log as one row of n
// columns, each the hash at one index or NULL (as logHashesQueries): a
// pull reads the few it needs to check a page at once.
var peerHashesQueries = func() (get [maxLogRows + 1]string) {
	for n := 1; n <= maxLogRows; n++ {
		get[n] = "SELECT " +
			strings.TrimSuffix(strings.Repeat("(SELECT hash FROM peer_hashes WHERE peer = ? AND idx = ?), ", n), ", ")
	}
	return get
}()

// PeerHashes returns the hashes of a peer's log at the storage indexes.
func (t *tx) PeerHashes(ctx context.Context, peer string, indexes []int64) ([][32]byte, error) {
	out := make([][32]byte, len(indexes))
	for lo := 0; lo < len(indexes); lo += maxLogRows {
		chunk := indexes[lo:min(lo+maxLogRows, len(indexes))]
		args, raw, dest := make([]any, 0, 2*len(chunk)), make([]sql.RawBytes, len(chunk)), make([]any, len(chunk))
		for i, idx := range chunk {
			args = append(args, peer, idx)
			dest[i] = &raw[i]
		}
		if err := t.selectHashes(ctx, "peer log hash", peerHashesQueries[len(chunk)], chunk, args, dest, raw, out[lo:]); err != nil {
			return nil, err
		}
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
