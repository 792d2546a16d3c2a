package federation

import (
	"context"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/mechanism"
)

// applyInKeep applies, in keep's transaction tx, a page of the peer's log
// that holds nothing to apply here but node receipts of this node's
// operations (of one version or several each), among entries that change
// nothing here: what a peer's log mostly is while the peer follows this
// node's declarations. The page and the receipts' copies in this node's
// log then commit together, one commit a round of the pull rather than
// one to keep the page and another to apply it. Any other page (an entry
// to apply otherwise, one the applier alerts about, a receipt that does
// not name its entries) it leaves, having changed nothing, to the applier
// (applyStored), which applies and alerts as for any page; it reports
// whether it applied the page. p is the peer as tx read it, its cursor at
// the page's first entry; events are the page's entries keep parsed.
func (n *Node) applyInKeep(ctx context.Context, tx dc.Tx, p *dc.Peer, kept []dc.PeerEntry, events map[int64]parsedEntry) (bool, error) {
	var rs []mechanism.KeptReceipt
	var refs []mechanism.ReceivedEntry
	for _, e := range kept {
		if e.Data == nil {
			continue
		}
		pe, ok := events[e.Index]
		if !ok {
			return false, nil
		}
		st, ae := n.plan(ctx, p, e, pe.event)
		if ae != nil {
			return false, nil
		}
		switch st.kind {
		case stepSkip:
		case stepReceipt:
			// No mark: keep moves the cursor past the whole page, in
			// the transaction that found it at the page's start.
			st.receipt.Mark = nil
			rs = append(rs, st.receipt)
			refs = append(refs, receivedEntries(st.receipt)...)
		default:
			return false, nil
		}
	}
	for _, err := range n.mech.Federation().CheckReceivedEntriesIn(ctx, tx, refs) {
		if dc.ErrorCode(err) == dc.EInvalid {
			return false, nil // a forgery: the applier alerts it
		} else if err != nil {
			return false, err
		}
	}
	return true, n.mech.Federation().KeepNodeReceiptsIn(ctx, tx, rs)
}
