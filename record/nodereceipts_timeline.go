package record

import (
	"fmt"
	"slices"
	"strings"
	"time"

	dc "github.com/deconflict/deconflict"
)

// A federation node may receipt in one entry (operations.received, a
// NodeReceipts) the versions of a peer's operations that one page of the
// peer's log brought it, rather than in an entry for each version
// (operation.received, a NodeReceipt). The entry has no subject: it is
// about every operation it names a version of, and is in the bundle of
// each. There it says, of each version of the bundle's operation it
// names, what a receipt of that version alone says, checked as that
// receipt would be; the versions of other operations are checked only
// for their form (CheckNodeReceiptsFields), as the bundle does not hold
// their entries.

// VersionReceived is one version of the operation that a node's receipt
// (operation.received or operations.received) names, as the timeline
// shows it.
type VersionReceived struct {
	Version int
	// FirstStart and LeadTime are as for the Item of a receipt of that
	// version alone.
	FirstStart *time.Time
	LeadTime   *time.Duration
	// Text is the line a receipt of that version alone shows.
	Text string
}

// isNodeReceipt reports whether entries of type typ are federation
// nodes' receipts: of one version or of several.
func isNodeReceipt(typ string) bool {
	return typ == dc.EventOperationReceived || typ == dc.EventOperationsReceived
}

// readNodeReceipts reads the body of an operations.received event: the
// receipts, and where they were copied from (nil on the receiving node's
// own log).
func readNodeReceipts(e *dc.Event) (*NodeReceipts, *replicatedFrom, error) {
	var b struct {
		Receipts   *NodeReceipts   `json:"node_receipts"`
		Replicated *replicatedFrom `json:"replicated"`
	}
	if err := decodeBody(e, &b, func() bool { return b.Receipts != nil }); err != nil {
		return nil, nil, err
	}
	return b.Receipts, b.Replicated, nil
}

// describeNodeReceipts checks a federation node's receipt of several
// versions in one entry (operations.received) and says, for each version
// of the operation it names, what describeNodeReceipt says of a receipt
// of that version alone: one line each, in the order the entry names
// them. The item's own fields are those of the first; Received lists
// them all.
//
// The whole entry must have the form CheckNodeReceiptsFields checks. What
// binds the receiving node to it is its signed checkpoint over the entry:
// on its own log the bundle's (the log's key is the receipt's); on the
// author's log (a copy) a checkpoint of the receiving node's log the
// bundle carries, over that node's own operations.received entry holding
// exactly the same receipts.
func (t *Timeline) describeNodeReceipts(it *Item, e *dc.Event) (string, error) {
	rs, from, err := readNodeReceipts(e)
	if err != nil {
		return "", err
	}
	names := rs.Names(t.Operation)
	if len(names) == 0 {
		return "", fmt.Errorf("the node receipts name no version of operation %s", t.Operation)
	}
	at, err := CheckNodeReceiptsFields(rs)
	if err != nil {
		return "", err
	}
	key, vouched := t.Key, ""
	if from != nil {
		if from.Node != rs.Key {
			return "", fmt.Errorf("the node receipts name key %s, but the entry is a copy from the log of the node of key %s", keyName(rs.Key), keyName(from.Node))
		}
		key = rs.Key
		if vouched, err = t.receipts.prove(from, func(e *dc.Event) error { return sameAsCopies(e, rs) }); err != nil {
			return "", err
		}
	}
	lines := make([]string, 0, len(names))
	for _, i := range names {
		r := rs.Receipt(i)
		received, err := t.checkReceived(it.Index, r, from)
		if err != nil {
			return "", fmt.Errorf("node receipts: entries[%d] (version %d of the operation): %w", i, r.Version, err)
		}
		v := Item{Index: it.Index}
		txt := t.receivedText(&v, r, key, at, received, vouched)
		it.Received = append(it.Received, VersionReceived{Version: v.Version, FirstStart: v.FirstStart, LeadTime: v.LeadTime, Text: txt})
		if len(lines) == 0 {
			it.Party, it.Version, it.SignedBy, it.Key, it.Receiver = v.Party, v.Version, v.SignedBy, v.Key, v.Receiver
			it.FirstStart, it.LeadTime = v.FirstStart, v.LeadTime
		}
		lines = append(lines, txt)
	}
	return strings.Join(lines, "\n"), nil
}

// sameAsCopies checks that e, the receiving node's entry a copy of node
// receipts rs was made from, is that node's own operations.received
// entry (no subject) holding exactly rs.
func sameAsCopies(e *dc.Event, rs *NodeReceipts) error {
	if e.Type != dc.EventOperationsReceived || e.Subject != nil {
		return fmt.Errorf("it is a %s event, not that node's receipt of the versions its copy names", e.Type)
	}
	own, copied, err := readNodeReceipts(e)
	if err != nil {
		return err
	}
	if copied != nil {
		return fmt.Errorf("it is a copy of another node's entry, not that node's own receipt")
	}
	if !sameReceipts(own, rs) {
		return fmt.Errorf("the receipts it holds are not those shown in this bundle: the receipts were altered")
	}
	return nil
}

// sameReceipts reports whether a and b say the same, field by field.
func sameReceipts(a, b *NodeReceipts) bool {
	return a.Party == b.Party && slices.Equal(a.Receiver, b.Receiver) && a.Key == b.Key && a.ReceivedAt == b.ReceivedAt &&
		slices.Equal(a.Entries, b.Entries)
}
