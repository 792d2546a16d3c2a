package federation

import (
	"context"
	"fmt"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/record"
	"golang.org/x/mod/sumdb/tlog"
)

// maxWitnessed is the most witnessed checkpoints read from one page.
const maxWitnessed = 100

// checkWitnessed checks the checkpoints of other nodes that the peer
// from witnessed (cosigned) against this node's own view of those logs:
// a log of the same size must have the same root. A node that showed the
// peer another history than it showed this node (equivocation) is
// alerted, with both signed checkpoints as evidence. A checkpoint of a
// log longer than this node has verified is left to a later pull (the
// peer, which is behind, checks this node's view of it meanwhile).
func (n *Node) checkWitnessed(ctx context.Context, from *dc.Peer, notes []string) {
	if len(notes) > maxWitnessed {
		notes = notes[:maxWitnessed]
	}
	n.mu.Lock()
	var others []*dc.Peer
	for _, p := range n.peers {
		if p.Key != from.Key {
			others = append(others, p)
		}
	}
	n.mu.Unlock()
	for _, w := range notes {
		for _, x := range others {
			_, tree, err := record.ParseCheckpoint([]byte(w), x.Key)
			if err != nil {
				continue // not x's checkpoint
			}
			if _, err := record.VerifyCosignature([]byte(w), from.Key); err != nil {
				n.alert(ctx, from.Key, "bad_signature", fmt.Sprintf("a checkpoint of the peer at %s that it passed on as witnessed: %v", x.URL, err), w)
				break
			}
			kept, root, ok, err := n.rootOf(ctx, x.Key, tree.N)
			if err != nil || !ok || tree.N == 0 {
				break
			}
			if root != tree.Hash {
				n.alert(ctx, x.Key, "equivocation",
					fmt.Sprintf("the peer showed the node at %s a log of %d entries that differs from the one it showed this node: two histories", from.URL, tree.N),
					"witnessed by "+from.URL+":\n"+w+"\nkept here:\n"+kept)
			}
			break
		}
	}
}

// rootOf returns the root of the first size entries of a peer's log as
// this node verified it, with the peer's checkpoint kept; ok is false
// when this node has not verified that many.
func (n *Node) rootOf(ctx context.Context, key string, size int64) (kept string, root tlog.Hash, ok bool, err error) {
	err = n.store.View(ctx, func(tx dc.Tx) error {
		ftx, peers, err := storedPeers(ctx, tx)
		if err != nil {
			return err
		}
		for _, p := range peers {
			if p.Key == key && p.Verified >= size {
				kept, ok = p.Checkpoint, true
			}
		}
		if !ok {
			return nil
		}
		root, err = tlog.TreeHash(size, &peerHashes{ctx: ctx, ftx: ftx, key: key, pending: map[int64]tlog.Hash{}})
		return err
	})
	return kept, root, ok, err
}

// ownWitness returns the peer's cosignature of this node's own
// checkpoint (self is this node's verifier key), found among the
// checkpoints the peer passed on as witnessed, for keep to keep with the
// page, so that this node serves it with that checkpoint; "" if there is
// none. A cosignature that does not verify is not kept, and alerted: the
// peer signed something wrong with its own key.
func (n *Node) ownWitness(ctx context.Context, from *dc.Peer, notes []string, self string) string {
	if len(notes) > maxWitnessed {
		notes = notes[:maxWitnessed]
	}
	for _, w := range notes {
		if _, _, err := record.ParseCheckpoint([]byte(w), self); err != nil {
			continue // not this node's checkpoint
		}
		if _, err := record.VerifyCosignature([]byte(w), from.Key); err != nil {
			n.alert(ctx, from.Key, "bad_signature", fmt.Sprintf("the peer's cosignature of this node's checkpoint: %v", err), w)
			return ""
		}
		return w
	}
	return ""
}
