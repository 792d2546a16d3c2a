package mechanism

import (
	"context"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/record"
	"golang.org/x/mod/sumdb/tlog"
)

// addNodeReceiptProofs adds to an evidence bundle the proofs of the peer
// nodes' receipts it shows (record.AddNodeReceiptProofs): each receipt's
// entry of the peer's log, with its record proof in the peer's latest
// signed checkpoint this node verified, from what this node keeps of the
// peer's log, read in one transaction. A peer removed from the store
// with its log leaves its receipts without proof.
func (m *Mechanism) addNodeReceiptProofs(ctx context.Context, b *record.Bundle) error {
	return m.store.View(ctx, func(tx dc.Tx) error {
		ftx, ok := tx.(dc.FederationTx)
		if !ok {
			return nil
		}
		peers, err := ftx.Peers(ctx)
		if err != nil {
			return err
		}
		return record.AddNodeReceiptProofs(b, func(key string) (record.KeptPeerLog, error) {
			for _, p := range peers {
				if p.Key == key && p.Checkpoint != "" {
					return &keptPeerLog{ctx: ctx, ftx: ftx, peer: p}, nil
				}
			}
			return nil, nil
		})
	})
}

// keptPeerLog reads what this node keeps of a peer's log, in a
// transaction (record.KeptPeerLog).
type keptPeerLog struct {
	ctx  context.Context
	ftx  dc.FederationTx
	peer *dc.Peer
}

func (l *keptPeerLog) Checkpoint() string { return l.peer.Checkpoint }

func (l *keptPeerLog) Entry(index int64) ([]byte, error) {
	es, err := l.ftx.PeerEntries(l.ctx, l.peer.Key, index, 1)
	if err != nil || len(es) == 0 || es[0].Index != index {
		return nil, err
	}
	return es[0].Data, nil
}

func (l *keptPeerLog) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	hs, err := l.ftx.PeerHashes(l.ctx, l.peer.Key, indexes)
	if err != nil {
		return nil, err
	}
	out := make([]tlog.Hash, len(hs))
	for i, h := range hs {
		out[i] = h
	}
	return out, nil
}
