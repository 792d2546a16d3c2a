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

// NodeURL returns where peers reach this node, "" if never set.
func (t *tx) NodeURL(ctx context.Context) (string, error) {
	var url string
	err := t.queryRow(ctx, "SELECT url FROM federation_node WHERE id = 1").Scan(&url)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	} else if err != nil {
		return "", fmt.Errorf("select node url: %w", err)
	}
	return url, nil
}

// PutNodeURL stores where peers reach this node.
func (t *tx) PutNodeURL(ctx context.Context, url string) error {
	if _, err := t.exec(ctx, `INSERT INTO federation_node (id, url) VALUES (1, ?)
		ON CONFLICT (id) DO UPDATE SET url = excluded.url`, url); err != nil {
		return fmt.Errorf("update node url: %w", err)
	}
	return nil
}

// PutPeer inserts or replaces a peer.
func (t *tx) PutPeer(ctx context.Context, p *deconflict.Peer) error {
	doc, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode peer: %w", err)
	}
	if _, err := t.exec(ctx, `INSERT INTO peers (key, doc, applied) VALUES (?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET doc = excluded.doc, applied = excluded.applied`, p.Key, string(doc), p.Applied); err != nil {
		return fmt.Errorf("put peer: %w", err)
	}
	return nil
}

// Peers lists the peers in the order they were added.
func (t *tx) Peers(ctx context.Context) ([]*deconflict.Peer, error) {
	rows, err := t.query(ctx, "SELECT doc, applied FROM peers ORDER BY rowid")
	if err != nil {
		return nil, fmt.Errorf("select peers: %w", err)
	}
	defer rows.Close()
	var out []*deconflict.Peer
	for rows.Next() {
		var doc string
		var applied int64
		if err := rows.Scan(&doc, &applied); err != nil {
			return nil, fmt.Errorf("select peers: %w", err)
		}
		var p deconflict.Peer
		if err := json.Unmarshal([]byte(doc), &p); err != nil {
			return nil, fmt.Errorf("decode peer: %w", err)
		}
		p.Applied = applied
		out = append(out, &p)
	}
	return out, rows.Err()
}

// DeletePeer removes a peer and what was kept of its log. Its alerts
// stay: they are evidence.
func (t *tx) DeletePeer(ctx context.Context, key string) error {
	res, err := t.exec(ctx, "DELETE FROM peers WHERE key = ?", key)
	if err != nil {
		return fmt.Errorf("delete peer: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return deconflict.Errorf(deconflict.ENotFound, "no peer with key %s", key)
	}
	for _, q := range []string{"DELETE FROM peer_hashes WHERE peer = ?", "DELETE FROM peer_entries WHERE peer = ?"} {
		if _, err := t.exec(ctx, q, key); err != nil {
			return fmt.Errorf("delete peer log: %w", err)
		}
	}
	return nil
}

// MarkApplied moves a peer's cursor past entry index.
func (t *tx) MarkApplied(ctx context.Context, key string, index int64) (bool, error) {
	res, err := t.exec(ctx, "UPDATE peers SET applied = ? WHERE key = ? AND applied <= ?", index+1, key, index)
	if err != nil {
		return false, fmt.Errorf("move peer cursor: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
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

// PeerEntries returns stored entries of a peer's log from index from.
func (t *tx) PeerEntries(ctx context.Context, peer string, from int64, limit int) ([]deconflict.PeerEntry, error) {
	rows, err := t.query(ctx, "SELECT idx, leaf_hash, data FROM peer_entries WHERE peer = ? AND idx >= ? ORDER BY idx LIMIT ?", peer, from, limit)
	if err != nil {
		return nil, fmt.Errorf("select peer entries: %w", err)
	}
	defer rows.Close()
	var out []deconflict.PeerEntry
	for rows.Next() {
		var e deconflict.PeerEntry
		var h []byte
		if err := rows.Scan(&e.Index, &h, &e.Data); err != nil {
			return nil, fmt.Errorf("select peer entries: %w", err)
		}
		copy(e.LeafHash[:], h)
		out = append(out, e)
	}
	return out, rows.Err()
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

// PeerAlerts lists the newest alerts about a peer (every peer if empty).
func (t *tx) PeerAlerts(ctx context.Context, peer string, limit int) ([]*deconflict.PeerAlert, error) {
	rows, err := t.query(ctx, "SELECT id, doc FROM peer_alerts WHERE ? = '' OR peer = ? ORDER BY id DESC LIMIT ?", peer, peer, limit)
	if err != nil {
		return nil, fmt.Errorf("select peer alerts: %w", err)
	}
	defer rows.Close()
	var out []*deconflict.PeerAlert
	for rows.Next() {
		var id int64
		var doc string
		if err := rows.Scan(&id, &doc); err != nil {
			return nil, fmt.Errorf("select peer alerts: %w", err)
		}
		var a deconflict.PeerAlert
		if err := json.Unmarshal([]byte(doc), &a); err != nil {
			return nil, fmt.Errorf("decode peer alert: %w", err)
		}
		a.ID = id
		out = append(out, &a)
	}
	return out, rows.Err()
}

// PutOverride stores an override of an operation.
func (t *tx) PutOverride(ctx context.Context, o *deconflict.Override) error {
	doc, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("encode override: %w", err)
	}
	if _, err := t.exec(ctx, `INSERT INTO overrides (operation, doc) VALUES (?, ?)
		ON CONFLICT (operation) DO UPDATE SET doc = excluded.doc`, o.Operation, string(doc)); err != nil {
		return fmt.Errorf("put override: %w", err)
	}
	return nil
}

// Override returns the override of an operation; ENotFound if none.
func (t *tx) Override(ctx context.Context, operation string) (*deconflict.Override, error) {
	var doc string
	err := t.queryRow(ctx, "SELECT doc FROM overrides WHERE operation = ?", operation).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, deconflict.Errorf(deconflict.ENotFound, "no override of operation %s", operation)
	} else if err != nil {
		return nil, fmt.Errorf("select override: %w", err)
	}
	var o deconflict.Override
	if err := json.Unmarshal([]byte(doc), &o); err != nil {
		return nil, fmt.Errorf("decode override: %w", err)
	}
	return &o, nil
}
