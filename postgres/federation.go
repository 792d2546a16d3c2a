package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/deconflict/deconflict"
	"github.com/jackc/pgx/v5"
)

var _ deconflict.FederationTx = (*tx)(nil)

// NodeURL returns where peers reach this node, "" if never set.
func (t *tx) NodeURL(ctx context.Context) (string, error) {
	var url string
	err := t.queryRow(ctx, "SELECT url FROM federation_node WHERE id = 1").Scan(&url)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	} else if err != nil {
		return "", fmt.Errorf("select node url: %w", err)
	}
	return url, nil
}

// PutNodeURL stores where peers reach this node.
func (t *tx) PutNodeURL(ctx context.Context, url string) error {
	if _, err := t.exec(ctx, `INSERT INTO federation_node (id, url) VALUES (1, $1)
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
	if _, err := t.exec(ctx, `INSERT INTO peers (key, doc, applied) VALUES ($1, $2, $3)
		ON CONFLICT (key) DO UPDATE SET doc = excluded.doc, applied = excluded.applied`, p.Key, string(doc), p.Applied); err != nil {
		return fmt.Errorf("put peer: %w", err)
	}
	return nil
}

// Peers lists the peers in the order they were added.
func (t *tx) Peers(ctx context.Context) ([]*deconflict.Peer, error) {
	rows, err := t.query(ctx, "SELECT doc, applied FROM peers ORDER BY pos")
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

// DeletePeer removes a peer and what was kept of its log; its alerts
// stay, as evidence.
func (t *tx) DeletePeer(ctx context.Context, key string) error {
	tag, err := t.exec(ctx, "DELETE FROM peers WHERE key = $1", key)
	if err != nil {
		return fmt.Errorf("delete peer: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return deconflict.Errorf(deconflict.ENotFound, "no peer with key %s", key)
	}
	for _, q := range []string{"DELETE FROM peer_hashes WHERE peer = $1", "DELETE FROM peer_entries WHERE peer = $1"} {
		if _, err := t.exec(ctx, q, key); err != nil {
			return fmt.Errorf("delete peer log: %w", err)
		}
	}
	return nil
}

// MarkApplied moves a peer's cursor past entry index.
func (t *tx) MarkApplied(ctx context.Context, key string, index int64) (bool, error) {
	tag, err := t.exec(ctx, "UPDATE peers SET applied = $1 WHERE key = $2 AND applied <= $3", index+1, key, index)
	if err != nil {
		return false, fmt.Errorf("move peer cursor: %w", err)
	}
	return tag.RowsAffected() == 1, nil
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

// PeerEntries returns stored entries of a peer's log from index from.
func (t *tx) PeerEntries(ctx context.Context, peer string, from int64, limit int) ([]deconflict.PeerEntry, error) {
	rows, err := t.query(ctx, "SELECT idx, leaf_hash, data FROM peer_entries WHERE peer = $1 AND idx >= $2 ORDER BY idx LIMIT $3", peer, from, limit)
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
	if err := t.queryRow(ctx, "INSERT INTO peer_alerts (peer, doc) VALUES ($1, $2) RETURNING id", a.Peer, string(doc)).Scan(&a.ID); err != nil {
		return fmt.Errorf("insert peer alert: %w", err)
	}
	return nil
}

// PeerAlerts lists the newest alerts about a peer (every peer if empty).
func (t *tx) PeerAlerts(ctx context.Context, peer string, limit int) ([]*deconflict.PeerAlert, error) {
	rows, err := t.query(ctx, "SELECT id, doc FROM peer_alerts WHERE $1 = '' OR peer = $1 ORDER BY id DESC LIMIT $2", peer, limit)
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
	if _, err := t.exec(ctx, `INSERT INTO overrides (operation, doc) VALUES ($1, $2)
		ON CONFLICT (operation) DO UPDATE SET doc = excluded.doc`, o.Operation, string(doc)); err != nil {
		return fmt.Errorf("put override: %w", err)
	}
	return nil
}

// Override returns the override of an operation; ENotFound if none.
func (t *tx) Override(ctx context.Context, operation string) (*deconflict.Override, error) {
	var doc string
	err := t.queryRow(ctx, "SELECT doc FROM overrides WHERE operation = $1", operation).Scan(&doc)
	if errors.Is(err, pgx.ErrNoRows) {
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
