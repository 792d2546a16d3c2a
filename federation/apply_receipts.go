package federation

import (
	"context"
	"fmt"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/record"
)

// How a node takes its peers' receipts of its own operations from their
// logs: a receipt of one version (operation.received, record.NodeReceipt)
// or of the versions of one party one batch of the peer applied
// (operations.received, record.NodeReceipts). Each is checked for what
// it says of the peer (its key, its parties) by plan, and for what it
// says of this node's log (each version is the entry it names) by
// checkReceipts; one it keeps, a copy of the peer's whole entry in this
// node's log (mechanism.KeepNodeReceipts).

// planReceipt plans a peer's entry holding its receipt r of one version
// (see plan).
func (n *Node) planReceipt(p *dc.Peer, pe dc.PeerEntry, e *dc.Event, r *record.NodeReceipt, origin mechanism.PeerOrigin, m func(dc.Tx) error) (step, *alertError) {
	skip := step{kind: stepSkip, index: pe.Index}
	if r.Key != p.Key {
		return skip, &alertError{kind: "forged", msg: fmt.Sprintf("entry %d is a node receipt that names another key than the peer's (%s)", pe.Index, keyName(r.Key)), evidence: string(pe.Data)}
	}
	if e.Subject == nil || e.Subject.Kind != dc.SubjectOperation || e.Subject.ID != r.Operation {
		return skip, &alertError{kind: "malformed", msg: fmt.Sprintf("entry %d is a node receipt of operation %q whose entry is about something else", pe.Index, r.Operation), evidence: string(pe.Data)}
	}
	if !namesItsParties(p, r.Receiver) {
		return skip, &alertError{kind: "forged", msg: fmt.Sprintf("entry %d is a node receipt for receivers %q, which are not exactly the parties this peer hosts, each once (%q)",
			pe.Index, r.Receiver, p.Parties), evidence: string(pe.Data)}
	}
	// The receipt is the peer's by its log, whose checkpoint the pull
	// verified with the peer's key over this very entry; one that
	// carries a signature of its own must also be signed right.
	if r.Signed != "" {
		if _, err := record.CheckNodeReceipt(r); err != nil {
			return skip, &alertError{kind: "bad_signature", msg: fmt.Sprintf("entry %d: %v", pe.Index, err), evidence: string(pe.Data)}
		}
	} else if _, err := record.CheckNodeReceiptFields(r); err != nil {
		return skip, &alertError{kind: "malformed", msg: fmt.Sprintf("entry %d: %v", pe.Index, err), evidence: string(pe.Data)}
	}
	if _, remote := n.mech.Federation().RemoteParty(r.Party); remote {
		return skip, nil // a receipt of another node's operation
	}
	return step{kind: stepReceipt, index: pe.Index, event: e.Type, data: pe.Data,
		receipt: mechanism.KeptReceipt{Origin: origin, Receipt: r, Mark: m}}, nil
}

// planReceipts plans a peer's entry holding its receipt rs of several
// versions (see plan): checked as a receipt of one version is, but for
// the entry's subject, which it has none of (its versions may be of
// several operations).
func (n *Node) planReceipts(p *dc.Peer, pe dc.PeerEntry, e *dc.Event, rs *record.NodeReceipts, origin mechanism.PeerOrigin, m func(dc.Tx) error) (step, *alertError) {
	skip := step{kind: stepSkip, index: pe.Index}
	if rs.Key != p.Key {
		return skip, &alertError{kind: "forged", msg: fmt.Sprintf("entry %d is a node receipt that names another key than the peer's (%s)", pe.Index, keyName(rs.Key)), evidence: string(pe.Data)}
	}
	if e.Subject != nil {
		return skip, &alertError{kind: "malformed", msg: fmt.Sprintf("entry %d is a node receipt of several versions whose entry is about %s %q", pe.Index, e.Subject.Kind, e.Subject.ID), evidence: string(pe.Data)}
	}
	if !namesItsParties(p, rs.Receiver) {
		return skip, &alertError{kind: "forged", msg: fmt.Sprintf("entry %d is a node receipt for receivers %q, which are not exactly the parties this peer hosts, each once (%q)",
			pe.Index, rs.Receiver, p.Parties), evidence: string(pe.Data)}
	}
	// The receipt is the peer's by its log, whose checkpoint the pull
	// verified with the peer's key over this very entry.
	if _, err := record.CheckNodeReceiptsFields(rs); err != nil {
		return skip, &alertError{kind: "malformed", msg: fmt.Sprintf("entry %d: %v", pe.Index, err), evidence: string(pe.Data)}
	}
	if _, remote := n.mech.Federation().RemoteParty(rs.Party); remote {
		return skip, nil // a receipt of another node's operations
	}
	return step{kind: stepReceipt, index: pe.Index, event: e.Type, data: pe.Data,
		receipt: mechanism.KeptReceipt{Origin: origin, Receipts: rs, Mark: m}}, nil
}

// checkReceipts checks, in one read of the store, that each node receipt
// of steps names, for each version it received, the entry of this node's
// log it claims: one that does not, for any of its versions, is a
// forgery, alerted and skipped whole; a failure of this node fails the
// step, applied again on the next round.
func (n *Node) checkReceipts(ctx context.Context, key string, steps []step) {
	var refs []mechanism.ReceivedEntry
	var of, nth []int // the step of each of refs, and which of its versions it is
	for i, st := range steps {
		if st.kind == stepReceipt {
			for k, r := range receivedEntries(st.receipt) {
				refs, of, nth = append(refs, r), append(of, i), append(nth, k)
			}
		}
	}
	if len(refs) == 0 {
		return
	}
	for j, err := range n.mech.Federation().CheckReceivedEntries(ctx, refs) {
		st := &steps[of[j]]
		if err == nil || st.kind != stepReceipt {
			continue // a version named right, or of a receipt judged by another of its versions
		}
		if dc.ErrorCode(err) != dc.EInvalid {
			// A failure of this node: applied again on the next round.
			*st = step{kind: stepOther, index: st.index, event: st.event, data: st.data, apply: func() error { return err }}
			continue
		}
		msg := fmt.Sprintf("entry %d is a node receipt that does not name the entry it received: %s", st.index, dc.ErrorMessage(err))
		if st.receipt.Receipts != nil {
			msg = fmt.Sprintf("entry %d is a node receipt of %d versions whose entries[%d] does not name the entry it received: %s", st.index, len(st.receipt.Receipts.Entries), nth[j], dc.ErrorMessage(err))
		}
		n.alert(ctx, key, "forged", msg, string(st.data))
		*st = step{kind: stepSkip, index: st.index}
	}
}

// receivedEntries are the entries of this node's log a node receipt says
// it received, as CheckReceivedEntries checks them: one for each version.
func receivedEntries(k mechanism.KeptReceipt) []mechanism.ReceivedEntry {
	if k.Receipt != nil {
		return []mechanism.ReceivedEntry{receivedEntry(k.Receipt)}
	}
	out := make([]mechanism.ReceivedEntry, len(k.Receipts.Entries))
	for i, v := range k.Receipts.Entries {
		out[i] = mechanism.ReceivedEntry{Index: v.Entry, LeafHash: v.LeafHash, Operation: v.Operation, Party: k.Receipts.Party, Version: v.Version}
	}
	return out
}

// receivedEntry is the entry of this node's log a node receipt of one
// version says it received, as CheckReceivedEntries checks it.
func receivedEntry(r *record.NodeReceipt) mechanism.ReceivedEntry {
	return mechanism.ReceivedEntry{Index: r.Entry, LeafHash: r.LeafHash, Operation: r.Operation, Party: r.Party, Version: r.Version}
}
