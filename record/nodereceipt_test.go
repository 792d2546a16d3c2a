package record

import (
	"strings"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"golang.org/x/mod/sumdb/tlog"
)

// leafOf is the leaf hash of entry index of f, as a receipt names it.
func leafOf(f *fakeTx, index int64) string {
	return tlog.RecordHash(EntryBytes(f.events[index])).String()
}

// receiptOf is a receipt by node (receiver bravo) of version of opA,
// naming entry of the author's log with leaf hash leaf, not yet signed.
func receiptOf(node *dc.SigningKey, entry int64, leaf string, version int) *NodeReceipt {
	return &NodeReceipt{Operation: opA, Party: "alpha", Version: version, Receiver: []string{"bravo"}, Key: node.Verifier,
		ReceivedAt: at(31 * time.Minute).Format(time.RFC3339Nano), Entry: entry, LeafHash: leaf}
}

// logReceipt signs r with signer (unless it is signed) and appends it to f as an
// operation.received entry; from, if not nil, marks it a copy of the
// receiving node's entry, as the author's node keeps it.
func logReceipt(t testing.TB, f *fakeTx, r *NodeReceipt, signer string, from *replicatedFrom) {
	t.Helper()
	if r.Signed == "" {
		if err := SignNodeReceipt(r, signer); err != nil {
			t.Fatal(err)
		}
	}
	body := map[string]any{"node_receipt": r}
	if from != nil {
		body["replicated"] = from
	}
	f.add(t, &dc.Event{Type: dc.EventOperationReceived, Time: at(31 * time.Minute), Actor: dc.Actor{Role: "node"},
		Subject: &dc.Subject{Kind: "operation", ID: opA}, Audience: []string{"alpha", "bravo"}}, body)
}

// addNodeReceipt appends to the author's log f bravo's node's signed
// receipt of version of opA, naming entry as it is in f, kept as the
// author's node keeps it: a copy of the receiving node's entry.
func addNodeReceipt(t testing.TB, f *fakeTx, node *dc.SigningKey, entry int64, version int) {
	t.Helper()
	logReceipt(t, f, receiptOf(node, entry, leafOf(f, entry), version), node.Signer,
		&replicatedFrom{Node: node.Verifier, Index: 7, LeafHash: "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="})
}

// TestNodeReceiptNamesEntry: a node receipt in the author's log names the
// entry its node received (index and leaf hash, under its signature);
// verify checks that the bundle holds that entry, before the receipt, as
// the receipt names it, and says which it is. A receipt of another entry
// (another leaf hash, an entry not in the bundle, another version)
// fails, though its signature verifies.
func TestNodeReceiptNamesEntry(t *testing.T) {
	bravo := mustKey(t, "bravo-node")
	k := mustKey(t, origin)
	from := &replicatedFrom{Node: bravo.Verifier, Index: 7, LeafHash: "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="}

	f := scenario(t)
	addNodeReceipt(t, f, bravo, 15, 2)
	tl, err := Verify(bundleFor(t, f, k, admin), k.Verifier)
	if err != nil {
		t.Fatalf("a receipt of entry 15, version 2 of opA: %v", err)
	}
	if text := tl.Items[len(tl.Items)-1].Text; !strings.Contains(text, "the entry received is entry 15 of this bundle") {
		t.Errorf("the receipt's text does not say which entry was received: %s", text)
	}

	other := *from
	other.Node = mustKey(t, "charlie-node").Verifier
	for name, c := range map[string]struct {
		r    *NodeReceipt
		from *replicatedFrom
		says string
	}{
		"another leaf hash":             {receiptOf(bravo, 15, leafOf(f, 3), 2), from, "but the bundle's entry 15 has leaf hash"},
		"an entry not in the bundle":    {receiptOf(bravo, 4, leafOf(f, 4), 2), from, "not an entry of this bundle before it"},
		"an entry after the receipt":    {receiptOf(bravo, 40, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", 2), from, "not an entry of this bundle before it"},
		"another version's entry":       {receiptOf(bravo, 3, leafOf(f, 3), 2), from, "which is not version 2 of the operation"},
		"a copy from another node":      {receiptOf(bravo, 15, leafOf(f, 15), 2), &other, "a copy from the log of the node of key charlie-node"},
		"no copy on the receiver's log": {receiptOf(bravo, 15, leafOf(f, 15), 2), nil, "no entry of this bundle before it is a copy of version 2"},
	} {
		g := scenario(t)
		logReceipt(t, g, c.r, bravo.Signer, c.from)
		if _, err := Verify(bundleFor(t, g, k, admin), k.Verifier); err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: Verify error %v does not say %q", name, err, c.says)
		}
	}
}

// TestNodeReceiptOnReceiver: on the receiving node's log the receipt is
// its own, of the author's entry it copied: verify finds the copy made
// from exactly that entry, and fails a receipt naming any other.
func TestNodeReceiptOnReceiver(t *testing.T) {
	alpha, bravo := mustKey(t, "alpha-node"), mustKey(t, "bravo-node")
	k := bravo // the receiving node's log
	leaf := "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
	receiverLog := func(entry int64, version int) *fakeTx {
		f := newFakeTx()
		f.add(t, &dc.Event{Type: dc.EventOperationDeclared, Time: at(0), Actor: alphaOp, Subject: &dc.Subject{Kind: "operation", ID: opA}},
			map[string]any{"operation": operation(opA, "alpha", 1, dc.StatePlanned, at(2*time.Hour)),
				"replicated": replicatedFrom{Node: alpha.Verifier, Index: 3, LeafHash: leaf}})
		logReceipt(t, f, receiptOf(bravo, entry, leaf, version), bravo.Signer, nil)
		return f
	}
	tl, err := Verify(bundleFor(t, receiverLog(3, 1), k, admin), k.Verifier)
	if err != nil {
		t.Fatalf("the receiving node's receipt of its copy: %v", err)
	}
	if text := tl.Items[1].Text; !strings.Contains(text, "the entry received is entry 3 of the author's log, copied here as entry 0") {
		t.Errorf("the receipt's text does not say which entry was received: %s", text)
	}
	for name, f := range map[string]*fakeTx{
		"another entry of the author's log": receiverLog(4, 1),
		"another version":                   receiverLog(3, 2),
	} {
		if _, err := Verify(bundleFor(t, f, k, admin), k.Verifier); err == nil || !strings.Contains(err.Error(), "no entry of this bundle before it is a copy") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
