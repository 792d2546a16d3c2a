package record

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	dc "github.com/deconflict/deconflict"
)

// FuzzNodeReceiptsProofs: whatever the node receipt proofs of a bundle
// showing page receipts and a receipt of one version hold, Verify
// answers without panicking, and accepts only exactly the proofs the
// author's node built.
func FuzzNodeReceiptsProofs(f *testing.F) {
	b, k := sharedBundle(f)
	seed, err := json.Marshal(b.NodeReceipts)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`[]`))
	f.Add([]byte(strings.Replace(string(seed), `"index":1`, `"index":2`, 1)))
	f.Add([]byte(strings.Replace(string(seed), `\"received_at\":\"2026`, `\"received_at\":\"2027`, 1)))
	f.Fuzz(func(t *testing.T, proofs []byte) {
		c := *b
		c.NodeReceipts = nil
		if json.Unmarshal(proofs, &c.NodeReceipts) != nil {
			return
		}
		if _, err := Verify(&c, k.Verifier); err == nil && !reflect.DeepEqual(c.NodeReceipts, b.NodeReceipts) {
			t.Errorf("accepted proofs other than those built: %s", proofs)
		}
	})
}

// FuzzNodeReceiptsBody: whatever the body of an operations.received
// entry, reading it (scope, the timeline) answers without panicking; on
// the receiving node's log, one the timeline accepts is about the
// operation, is no copy (a copy needs a proof, which that bundle lacks),
// has the form of a page receipt, and shows one line for each version
// of the operation it names.
func FuzzNodeReceiptsBody(f *testing.F) {
	alpha, bravo := mustKey(f, "alpha-node"), mustKey(f, "bravo-node")
	fx := receiverPage(f, alpha, func(leaf func(int64) string) *NodeReceipts {
		return batchOf(bravo, ReceivedVersion{Operation: opA, Version: 1, Entry: 3, LeafHash: leaf(3)},
			ReceivedVersion{Operation: opOther, Version: 1, Entry: 7, LeafHash: leaf(7)},
			ReceivedVersion{Operation: opA, Version: 2, Entry: 15, LeafHash: leaf(15)})
	})
	tl, err := Verify(bundleFor(f, fx, bravo, admin), bravo.Verifier)
	if err != nil {
		f.Fatal(err)
	}
	seed := fx.events[3].Data
	f.Add([]byte(seed))
	f.Add([]byte(`{"node_receipts":{"entries":[]}}`))
	f.Add(bytes.Replace(seed, []byte(`{"node_receipts"`), []byte(`{"replicated":{"node":"x","index":1,"leaf_hash":""},"node_receipts"`), 1))
	f.Fuzz(func(t *testing.T, body []byte) {
		e := &dc.Event{Seq: 5, Type: dc.EventOperationsReceived, Actor: dc.Actor{Role: "node"}, Data: body}
		about, scopeErr := newScope(opA).relate(e)
		it := Item{Index: 4, Seq: 5}
		text, err := tl.describeNodeReceipts(&it, e)
		if err != nil {
			return
		}
		rs, from, rerr := readNodeReceipts(e)
		if _, ferr := CheckNodeReceiptsFields(rs); !about || scopeErr != nil || rerr != nil || from != nil || ferr != nil {
			t.Fatalf("accepted %s: about %v (%v), copy %v, fields %v", body, about, scopeErr, from, ferr)
		}
		if n := len(rs.Names(opA)); len(it.Received) != n || strings.Count(text, "\n") != n-1 {
			t.Errorf("%d versions of the operation named, %d shown:\n%s", n, len(it.Received), text)
		}
	})
}
