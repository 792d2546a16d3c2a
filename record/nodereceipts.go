package record

import (
	"fmt"
	"slices"
	"time"
)

// NodeReceipts is a federation node's receipt of the versions of another
// node's operations it applied together: one entry of the receiving
// node's log (operations.received) for what one page of the author's log
// brought it of one author party, rather than an entry for each version.
// Each of its Entries says what a NodeReceipt says, and Receipt gives it
// as one; what they share (the author party, the receiving node's parties
// and key, the time) is said once. It carries no signature of its own:
// the receiving node's signed checkpoints over its entry bind the node to
// it, as they bind a NodeReceipt without Signed.
//
// The author's node keeps a copy of the whole entry in its own log, as it
// does of a NodeReceipt, where the evidence of each operation it names
// finds it.
type NodeReceipts struct {
	// Party is the party whose operations they are (the author).
	Party string `json:"party"`
	// Receiver lists the parties the receiving node hosts.
	Receiver []string `json:"receiver"`
	// Key is the receiving node's verifier key.
	Key        string `json:"key"`
	ReceivedAt string `json:"received_at"`
	// Entries are the versions received, in increasing order of the
	// author's log entry that holds each.
	Entries []ReceivedVersion `json:"entries"`
}

// ReceivedVersion is one version of an operation a NodeReceipts says
// its node received: the version, and the author's log entry that holds
// it (index and leaf hash).
type ReceivedVersion struct {
	Operation string `json:"operation"`
	Version   int    `json:"version"`
	Entry     int64  `json:"entry"`
	LeafHash  string `json:"leaf_hash"`
}

// MaxReceivedVersions is the most versions one NodeReceipts names: more
// than a page of a peer's log holds.
const MaxReceivedVersions = 10000

// Receipt returns the i-th version received as a NodeReceipt of its own
// (without Signed).
func (rs *NodeReceipts) Receipt(i int) *NodeReceipt {
	v := rs.Entries[i]
	return &NodeReceipt{
		Operation: v.Operation, Party: rs.Party, Version: v.Version,
		Receiver: slices.Clone(rs.Receiver), Key: rs.Key, ReceivedAt: rs.ReceivedAt,
		Entry: v.Entry, LeafHash: v.LeafHash,
	}
}

// Names returns the indexes in Entries of the versions of operation op.
func (rs *NodeReceipts) Names(op string) []int {
	var out []int
	for i, v := range rs.Entries {
		if v.Operation == op {
			out = append(out, i)
		}
	}
	return out
}

// CheckNodeReceiptsFields checks what every NodeReceipts must hold: one
// version or more, at most MaxReceivedVersions, in strictly increasing
// order of entry, and each, as a NodeReceipt, what CheckNodeReceiptFields
// checks. It returns the receiving time. It checks no signature.
func CheckNodeReceiptsFields(rs *NodeReceipts) (time.Time, error) {
	if len(rs.Entries) == 0 || len(rs.Entries) > MaxReceivedVersions {
		return time.Time{}, fmt.Errorf("node receipts: %d versions received, not between 1 and %d", len(rs.Entries), MaxReceivedVersions)
	}
	var at time.Time
	for i := range rs.Entries {
		if i > 0 && rs.Entries[i].Entry <= rs.Entries[i-1].Entry {
			return time.Time{}, fmt.Errorf("node receipts: entries[%d]: entry %d does not follow entry %d", i, rs.Entries[i].Entry, rs.Entries[i-1].Entry)
		}
		t, err := CheckNodeReceiptFields(rs.Receipt(i))
		if err != nil {
			return time.Time{}, fmt.Errorf("node receipts: entries[%d]: %w", i, err)
		}
		at = t
	}
	return at, nil
}
