package storeval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/deconflict/deconflict"
)

// The methods of deconflict.FederationTx and deconflict.DSSTx whose
// statements both engines take alike. The writes of many rows at once
// (a peer's hashes and entries), the insert that returns a generated ID
// and the writes a store defers stay with each store.

// each runs query and calls fn on every row of its answer; what names the
// rows in errors.
func (l Tx) each(ctx context.Context, what, query string, args []any, fn func(Row) error) error {
	rows, err := l.Q.Query(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("select %s: %w", what, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("select %s: %w", what, err)
	}
	return nil
}

// NodeURL returns where peers reach this node, "" if never set.
func (l Tx) NodeURL(ctx context.Context) (string, error) {
	var url string
	err := l.Q.QueryRow(ctx, "SELECT url FROM federation_node WHERE id = 1").Scan(&url)
	if errors.Is(err, l.D.NoRows) {
		return "", nil
	} else if err != nil {
		return "", fmt.Errorf("select node url: %w", err)
	}
	return url, nil
}

// PutNodeURL stores where peers reach this node.
func (l Tx) PutNodeURL(ctx context.Context, url string) error {
	if _, err := l.Q.Exec(ctx, `INSERT INTO federation_node (id, url) VALUES (1, `+l.D.Param(1)+`)
		ON CONFLICT (id) DO UPDATE SET url = excluded.url`, url); err != nil {
		return fmt.Errorf("update node url: %w", err)
	}
	return nil
}

// PutPeer inserts or replaces a peer.
func (l Tx) PutPeer(ctx context.Context, p *deconflict.Peer) error {
	doc, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode peer: %w", err)
	}
	if _, err := l.Q.Exec(ctx, `INSERT INTO peers (key, doc, applied) VALUES (`+l.D.Params(3)+`)
		ON CONFLICT (key) DO UPDATE SET doc = excluded.doc, applied = excluded.applied`, p.Key, string(doc), p.Applied); err != nil {
		return fmt.Errorf("put peer: %w", err)
	}
	return nil
}

// Peers lists the peers in the order they were added, which the column
// order keeps (each store names its own).
func (l Tx) Peers(ctx context.Context, order string) ([]*deconflict.Peer, error) {
	var out []*deconflict.Peer
	err := l.each(ctx, "peers", "SELECT doc, applied FROM peers ORDER BY "+order, nil, func(r Row) error {
		var doc string
		var applied int64
		if err := r.Scan(&doc, &applied); err != nil {
			return fmt.Errorf("select peers: %w", err)
		}
		var p deconflict.Peer
		if err := json.Unmarshal([]byte(doc), &p); err != nil {
			return fmt.Errorf("decode peer: %w", err)
		}
		p.Applied = applied
		out = append(out, &p)
		return nil
	})
	return out, err
}

// MarkApplied moves a peer's cursor past entry index.
func (l Tx) MarkApplied(ctx context.Context, key string, index int64) (bool, error) {
	n, err := l.Q.Exec(ctx, "UPDATE peers SET applied = "+l.D.Param(1)+" WHERE key = "+l.D.Param(2)+" AND applied <= "+l.D.Param(3), index+1, key, index)
	if err != nil {
		return false, fmt.Errorf("move peer cursor: %w", err)
	}
	return n == 1, nil
}

// PeerEntries returns stored entries of a peer's log from index from.
func (l Tx) PeerEntries(ctx context.Context, peer string, from int64, limit int) ([]deconflict.PeerEntry, error) {
	var out []deconflict.PeerEntry
	q := "SELECT idx, leaf_hash, data FROM peer_entries WHERE peer = " + l.D.Param(1) + " AND idx >= " + l.D.Param(2) + " ORDER BY idx LIMIT " + l.D.Param(3)
	err := l.each(ctx, "peer entries", q, []any{peer, from, limit}, func(r Row) error {
		var e deconflict.PeerEntry
		var h []byte
		if err := r.Scan(&e.Index, &h, &e.Data); err != nil {
			return fmt.Errorf("select peer entries: %w", err)
		}
		copy(e.LeafHash[:], h)
		out = append(out, e)
		return nil
	})
	return out, err
}

// PeerAlerts lists the newest alerts about a peer (every peer if empty).
func (l Tx) PeerAlerts(ctx context.Context, peer string, limit int) ([]*deconflict.PeerAlert, error) {
	var out []*deconflict.PeerAlert
	q := "SELECT id, doc FROM peer_alerts WHERE " + l.D.Param(1) + " = '' OR peer = " + l.D.Param(2) + " ORDER BY id DESC LIMIT " + l.D.Param(3)
	err := l.each(ctx, "peer alerts", q, []any{peer, peer, limit}, func(r Row) error {
		var id int64
		var doc string
		if err := r.Scan(&id, &doc); err != nil {
			return fmt.Errorf("select peer alerts: %w", err)
		}
		var a deconflict.PeerAlert
		if err := json.Unmarshal([]byte(doc), &a); err != nil {
			return fmt.Errorf("decode peer alert: %w", err)
		}
		a.ID = id
		out = append(out, &a)
		return nil
	})
	return out, err
}

// PutOverride stores an override of an operation.
func (l Tx) PutOverride(ctx context.Context, o *deconflict.Override) error {
	doc, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("encode override: %w", err)
	}
	if _, err := l.Q.Exec(ctx, `INSERT INTO overrides (operation, doc) VALUES (`+l.D.Params(2)+`)
		ON CONFLICT (operation) DO UPDATE SET doc = excluded.doc`, o.Operation, string(doc)); err != nil {
		return fmt.Errorf("put override: %w", err)
	}
	return nil
}

// Override returns the override of an operation; ENotFound if none.
func (l Tx) Override(ctx context.Context, operation string) (*deconflict.Override, error) {
	var doc string
	err := l.Q.QueryRow(ctx, "SELECT doc FROM overrides WHERE operation = "+l.D.Param(1), operation).Scan(&doc)
	if errors.Is(err, l.D.NoRows) {
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
