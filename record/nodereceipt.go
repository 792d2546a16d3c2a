package record

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// NodeReceipt is a federation node's statement that it received a
// version of another node's operation, and when: the proof of notice the
// author keeps. It names the author's log entry it received (index and
// leaf hash), so the receipt cannot be moved to another entry.
//
// A receiving node's log holds it in an operation.received entry of its
// own, or, as nodes write them, as one of the versions of an
// operations.received entry (NodeReceipts.Receipt). The log's
// checkpoints, which the node signs, bind the node to the receipt, and
// the author's evidence bundle carries the entry with its record proof
// in one of those checkpoints (NodeReceiptProof). A receipt may also carry a signature of its own
// (Signed), which binds it without the receiving node's log.
type NodeReceipt struct {
	Operation string `json:"operation"`
	// Party is the party whose operation it is (the author).
	Party   string `json:"party"`
	Version int    `json:"version"`
	// Receiver lists the parties the receiving node hosts.
	Receiver []string `json:"receiver"`
	// Key is the receiving node's verifier key.
	Key        string `json:"key"`
	ReceivedAt string `json:"received_at"`
	// Entry and LeafHash name the author's log entry received.
	Entry    int64  `json:"entry"`
	LeafHash string `json:"leaf_hash"`
	// Signed is, if not empty, the receipt's own signed note
	// (NodeReceiptText), signed with Key.
	Signed string `json:"signed,omitempty"`
}

// nodeReceiptHead is the first line of a node receipt's text.
const nodeReceiptHead = "deconflict node receipt"

// NodeReceiptText is the text a receiving node signs:
//
//	deconflict node receipt
//	operation ID
//	party P
//	version N
//	receiver P1,P2
//	received RFC3339
//	entry INDEX LEAFHASH
func NodeReceiptText(r *NodeReceipt) string {
	return fmt.Sprintf("%s\noperation %s\nparty %s\nversion %d\nreceiver %s\nreceived %s\nentry %d %s\n",
		nodeReceiptHead, r.Operation, r.Party, r.Version, strings.Join(r.Receiver, ","), r.ReceivedAt, r.Entry, r.LeafHash)
}

// SignNodeReceipt signs the receipt's text with the node's signing key (a
// note signer key) and sets r.Signed.
func SignNodeReceipt(r *NodeReceipt, signerKey string) error {
	s, err := NoteSigner(signerKey)
	if err != nil {
		return fmt.Errorf("node receipt: signing key: %w", err)
	}
	msg, err := note.Sign(&note.Note{Text: NodeReceiptText(r)}, s)
	if err != nil {
		return fmt.Errorf("node receipt: sign: %w", err)
	}
	r.Signed = string(msg)
	return nil
}

// CheckNodeReceipt verifies that r.Signed is signed by r.Key and says
// exactly what the other fields of r say, and checks the fields
// (CheckNodeReceiptFields). It returns the receiving time.
func CheckNodeReceipt(r *NodeReceipt) (time.Time, error) {
	n, err := openNote("node receipt", []byte(r.Signed), []string{r.Key})
	if err != nil {
		return time.Time{}, err
	}
	if n.Text != NodeReceiptText(r) {
		return time.Time{}, fmt.Errorf("node receipt: the signed text does not match the receipt's fields")
	}
	return CheckNodeReceiptFields(r)
}

// CheckNodeReceiptFields checks what every receipt must hold, signed or
// not: a receiving time, a version, the receiving node's parties, and the
// entry it received. It returns the receiving time. It checks no
// signature.
func CheckNodeReceiptFields(r *NodeReceipt) (time.Time, error) {
	if r.Operation == "" || r.Party == "" || r.Key == "" {
		return time.Time{}, fmt.Errorf("node receipt: the operation, its party or the receiving node's key is missing")
	}
	if len(r.Receiver) == 0 || slices.Contains(r.Receiver, "") {
		return time.Time{}, fmt.Errorf("node receipt: receiver %q does not name the receiving node's parties", r.Receiver)
	}
	if r.Entry < 0 {
		return time.Time{}, fmt.Errorf("node receipt: entry %d", r.Entry)
	}
	at, err := time.Parse(time.RFC3339Nano, r.ReceivedAt)
	if err != nil {
		return time.Time{}, fmt.Errorf("node receipt: received time %q: %v", r.ReceivedAt, err)
	}
	if r.Version < 1 {
		return time.Time{}, fmt.Errorf("node receipt: version %d", r.Version)
	}
	return at.UTC(), nil
}

// ParseEntry reads the bytes of a log entry (EntryBytes) back into an
// event. It fails unless data is exactly in the canonical form the log
// writes, so that what is read is what was hashed.
var ParseEntry = parseEntry
