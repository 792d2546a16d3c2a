package record

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"golang.org/x/mod/sumdb/tlog"
)

// receiverOrigin is the origin of the receiving node's log in these tests.
const receiverOrigin = "bravo.test"

// keptLog is what the author's node keeps of a receiving node's log
// (KeptPeerLog), over a fakeTx holding that log, with the node's
// checkpoint of its first size entries.
type keptLog struct {
	f    *fakeTx
	cp   string
	drop bool // keep no entry: Entry answers nil
}

func newKeptLog(t testing.TB, f *fakeTx, node *dc.SigningKey, size int64) *keptLog {
	t.Helper()
	cp, err := Checkpoint(ctx, f, receiverOrigin, size, []*dc.SigningKey{node})
	if err != nil {
		t.Fatal(err)
	}
	return &keptLog{f: f, cp: string(cp)}
}

func (l *keptLog) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	return HashReader(ctx, l.f).ReadHashes(indexes)
}
func (l *keptLog) Checkpoint() string { return l.cp }
func (l *keptLog) Entry(index int64) ([]byte, error) {
	if l.drop {
		return nil, nil
	}
	return EntryBytes(l.f.events[index]), nil
}

// receiverEntry appends to the receiving node's log g its own receipt r
// (without a signature of its own), after filler entries, and returns
// the copy of it the author's node keeps (where it came from).
func receiverEntry(t testing.TB, g *fakeTx, node *dc.SigningKey, r *NodeReceipt, filler int) *replicatedFrom {
	t.Helper()
	for range filler {
		g.add(t, &dc.Event{Type: dc.EventPartyAdded, Time: at(0), Actor: adminActor, Subject: &dc.Subject{Kind: "party", ID: "bravo"}},
			map[string]any{"party": map[string]string{"id": "bravo"}})
	}
	e := g.add(t, &dc.Event{Type: dc.EventOperationReceived, Time: at(31 * time.Minute), Actor: dc.Actor{Role: "node"},
		Subject: &dc.Subject{Kind: "operation", ID: r.Operation}, Audience: []string{"alpha", "bravo"}}, map[string]any{"node_receipt": r})
	leaf := tlog.RecordHash(EntryBytes(e))
	return &replicatedFrom{Node: node.Verifier, Index: e.Seq - 1, LeafHash: base64.StdEncoding.EncodeToString(leaf[:])}
}

// keepCopy appends to the author's log f the copy of a receipt, as the
// author's node keeps it.
func keepCopy(t testing.TB, f *fakeTx, r *NodeReceipt, from *replicatedFrom) {
	t.Helper()
	f.add(t, &dc.Event{Type: dc.EventOperationReceived, Time: at(32 * time.Minute), Actor: dc.Actor{Role: "node"},
		Subject: &dc.Subject{Kind: "operation", ID: r.Operation}, Audience: []string{"alpha", "bravo"}},
		map[string]any{"node_receipt": r, "replicated": from})
}

// provenBundle builds the admin's bundle of opA over the scenario with
// bravo's node's receipt of version 2 (entry 15) kept by alpha's node as
// a copy, bravo's log holding it at entry 3 of 6, and the proof of it
// from that log.
func provenBundle(t testing.TB) (b *Bundle, k, bravo *dc.SigningKey, g *fakeTx) {
	t.Helper()
	k, bravo = mustKey(t, origin), mustKey(t, "bravo-node")
	f, g := scenario(t), newFakeTx()
	r := receiptOf(bravo, 15, leafOf(f, 15), 2)
	from := receiverEntry(t, g, bravo, r, 3)
	for range 2 { // bravo's log grew past the receipt
		receiverEntry(t, g, bravo, receiptOf(bravo, 3, leafOf(f, 3), 1), 0)
	}
	keepCopy(t, f, r, from)
	kept := map[string]*keptLog{bravo.Verifier: newKeptLog(t, g, bravo, int64(len(g.events)))}
	return provenAs(t, f, k, admin, kept), k, bravo, g
}

// TestNodeReceiptProof: a node receipt without a signature of its own,
// kept by the author's node as a copy of the receiving node's entry, is
// proven by that node's signed checkpoint: the bundle carries the entry
// and its record proof, verify checks them offline with the receipt's
// key and prints the receipt as on a signed one, and the key given with
// --node-key must be that node's.
func TestNodeReceiptProof(t *testing.T) {
	b, k, bravo, _ := provenBundle(t)
	if len(b.NodeReceipts) != 1 || len(b.NodeReceipts[0].Entries) != 1 || b.NodeReceipts[0].Entries[0].Index != 3 {
		t.Fatalf("the bundle's node receipt proofs: %+v", b.NodeReceipts)
	}
	tl, err := Verify(b, k.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	it := tl.Items[len(tl.Items)-1]
	for _, want := range []string{"received by bravo's node at 2026-03-01T10:31:00Z, signed by bravo (key " + bravo.Verifier + ")",
		"the entry received is entry 15 of this bundle", "the receipt is entry 3 of its log, in its signed checkpoint of 6 entries"} {
		if !strings.Contains(it.Text, want) {
			t.Errorf("the receipt's text lacks %q: %s", want, it.Text)
		}
	}
	if it.Key != bravo.Verifier || it.LeadTime == nil {
		t.Errorf("the receipt's item: key %s, lead time %v", it.Key, it.LeadTime)
	}
	if err := tl.CheckNodeKeys([]string{mustKey(t, "charlie-node").Verifier}); err == nil {
		t.Errorf("the receipt passed as made with another node's key")
	}
	if err := tl.CheckNodeKeys([]string{bravo.Verifier}); err != nil {
		t.Errorf("CheckNodeKeys with bravo's key: %v", err)
	}
	if err := tl.CheckNodeParties(map[string][][]string{bravo.Verifier: {{"charlie"}}}); err == nil {
		t.Errorf("the receipt naming receiver bravo passed as made by a node hosting charlie")
	}
}

// TestNodeReceiptProofTampering: whatever is changed of a receipt's
// proof — the receiving node's entry, its leaf hash, index or record
// proof, its checkpoint, the checkpoint's signer, the receipt it holds —
// or of the copy it proves, the bundle fails with a message naming what
// failed; so does a bundle without the proof, or with a proof more.
func TestNodeReceiptProofTampering(t *testing.T) {
	stranger := mustKey(t, "bravo-node") // a key of the same name, not bravo's
	flip := func(s string, at int) string { return s[:at] + string(s[at]^1) + s[at+1:] }
	for name, c := range map[string]struct {
		change func(t *testing.T, b *Bundle, bravo *dc.SigningKey)
		says   string
	}{
		"no proof": {func(t *testing.T, b *Bundle, bravo *dc.SigningKey) { b.NodeReceipts = nil }, "no proof that the log of the node of key bravo-node"},
		"a changed byte of the entry": {func(t *testing.T, b *Bundle, bravo *dc.SigningKey) {
			en := &b.NodeReceipts[0].Entries[0]
			en.Data = strings.Replace(en.Data, `"received_at":"2026`, `"received_at":"2027`, 1)
		}, "does not hash to its leaf hash"},
		"the entry and its leaf hash changed": {func(t *testing.T, b *Bundle, bravo *dc.SigningKey) {
			en := &b.NodeReceipts[0].Entries[0]
			en.Data = strings.Replace(en.Data, `"received_at":"2026`, `"received_at":"2027`, 1)
			en.LeafHash = tlog.RecordHash([]byte(en.Data))
		}, "but the copy names leaf hash"},
		"another index": {func(t *testing.T, b *Bundle, bravo *dc.SigningKey) { b.NodeReceipts[0].Entries[0].Index = 4 }, "no proof that the log"},
		"a changed proof hash": {func(t *testing.T, b *Bundle, bravo *dc.SigningKey) {
			b.NodeReceipts[0].Entries[0].Proof[0][3] ^= 1
		}, "record proof does not lead"},
		"a proof hash dropped": {func(t *testing.T, b *Bundle, bravo *dc.SigningKey) {
			b.NodeReceipts[0].Entries[0].Proof = b.NodeReceipts[0].Entries[0].Proof[1:]
		}, "record proof does not lead"},
		"a changed byte of the checkpoint's text": {func(t *testing.T, b *Bundle, bravo *dc.SigningKey) {
			b.NodeReceipts[0].Checkpoint = flip(b.NodeReceipts[0].Checkpoint, len(receiverOrigin)+1)
		}, "no checkpoint signed by the key"},
		"a changed byte of the checkpoint's signature": {func(t *testing.T, b *Bundle, bravo *dc.SigningKey) {
			cp := b.NodeReceipts[0].Checkpoint
			b.NodeReceipts[0].Checkpoint = flip(cp, len(cp)-10)
		}, "no checkpoint signed by the key"},
		"a checkpoint signed by another key": {func(t *testing.T, b *Bundle, bravo *dc.SigningKey) {
			_, tree, err := ParseCheckpoint([]byte(b.NodeReceipts[0].Checkpoint), bravo.Verifier)
			if err != nil {
				t.Fatal(err)
			}
			cp, _ := signNote(formatCheckpoint(receiverOrigin, tree), []*dc.SigningKey{stranger})
			b.NodeReceipts[0].Checkpoint = string(cp)
		}, "not by bravo-node"},
		"a second signature on the checkpoint": {func(t *testing.T, b *Bundle, bravo *dc.SigningKey) {
			b.NodeReceipts[0].Checkpoint += strangerLine(t)
		}, "not a key it may be signed with"},
		"a proof more": {func(t *testing.T, b *Bundle, bravo *dc.SigningKey) {
			b.NodeReceipts = append(b.NodeReceipts, b.NodeReceipts[0])
		}, "proves no node receipt shown"},
		"an entry twice": {func(t *testing.T, b *Bundle, bravo *dc.SigningKey) {
			p := &b.NodeReceipts[0]
			p.Entries = append(p.Entries, p.Entries[0])
		}, "increasing index order"},
		"no entry":              {func(t *testing.T, b *Bundle, bravo *dc.SigningKey) { b.NodeReceipts[0].Entries = nil }, "holds no entry"},
		"an entry without data": {func(t *testing.T, b *Bundle, bravo *dc.SigningKey) { b.NodeReceipts[0].Entries[0].Data = "" }, "its data is missing"},
	} {
		t.Run(name, func(t *testing.T) {
			b, k, bravo, _ := provenBundle(t)
			c.change(t, b, bravo)
			if _, err := Verify(roundTrip(t, b), k.Verifier); err == nil || !strings.Contains(err.Error(), c.says) {
				t.Errorf("Verify error %v does not say %q", err, c.says)
			}
		})
	}
}

// TestNodeReceiptProofOtherTree: a receipt's proof leads to the tree of
// the checkpoint it is carried with, and each proof entry proves one
// receipt shown: a record proof made for another size of bravo's log
// fails, and so does a second checkpoint of bravo's (genuine, of another
// size) carrying the same entry, which proves nothing more.
func TestNodeReceiptProofOtherTree(t *testing.T) {
	b, k, bravo, g := provenBundle(t)
	p := b.NodeReceipts[0]
	en := p.Entries[0]
	smaller, err := tlog.ProveRecord(en.Index+1, en.Index, HashReader(ctx, g))
	if err != nil {
		t.Fatal(err)
	}
	c := roundTrip(t, b)
	c.NodeReceipts[0].Entries[0].Proof = smaller
	if _, err := Verify(c, k.Verifier); err == nil || !strings.Contains(err.Error(), "record proof does not lead") {
		t.Errorf("a proof for the tree of %d entries with the checkpoint of %d: %v", en.Index+1, len(g.events), err)
	}
	second := NodeReceiptProof{Checkpoint: newKeptLog(t, g, bravo, en.Index+1).cp,
		Entries: []Entry{{Index: en.Index, Data: en.Data, LeafHash: en.LeafHash, Proof: smaller}}}
	for name, ps := range map[string][]NodeReceiptProof{"after": {p, second}, "before": {second, p}} {
		c := roundTrip(t, b)
		c.NodeReceipts = ps
		if _, err := Verify(roundTrip(t, c), k.Verifier); err == nil || !strings.Contains(err.Error(), "proves no node receipt shown") {
			t.Errorf("a second checkpoint of bravo's %s the first: %v", name, err)
		}
	}
	c = roundTrip(t, b)
	c.NodeReceipts = []NodeReceiptProof{second}
	if _, err := Verify(c, k.Verifier); err != nil {
		t.Errorf("the receipt proven by bravo's smaller checkpoint alone: %v", err)
	}
}

// TestNodeReceiptProofOfAnotherEntry: the receiving node's entry a copy
// is proven by must be that node's own receipt saying exactly what the
// copy says; a proof of any other entry of its log fails, though it is
// in the log and its checkpoint is signed by the node.
func TestNodeReceiptProofOfAnotherEntry(t *testing.T) {
	k, bravo := mustKey(t, origin), mustKey(t, "bravo-node")
	for name, c := range map[string]struct {
		// entry appends to bravo's log the entry the copy is made from,
		// given the receipt the copy shows.
		entry func(t *testing.T, g *fakeTx, r *NodeReceipt) *dc.Event
		says  string
	}{
		"another receipt": {func(t *testing.T, g *fakeTx, r *NodeReceipt) *dc.Event {
			other := *r
			other.Receiver = []string{"bravo", "charlie"}
			return g.add(t, &dc.Event{Type: dc.EventOperationReceived, Time: at(31 * time.Minute), Actor: dc.Actor{Role: "node"},
				Subject: &dc.Subject{Kind: "operation", ID: opA}}, map[string]any{"node_receipt": &other})
		}, "the receipt it holds is not the one shown"},
		"a copy in its log": {func(t *testing.T, g *fakeTx, r *NodeReceipt) *dc.Event {
			return g.add(t, &dc.Event{Type: dc.EventOperationReceived, Time: at(31 * time.Minute), Actor: dc.Actor{Role: "node"},
				Subject: &dc.Subject{Kind: "operation", ID: opA}}, map[string]any{"node_receipt": r,
				"replicated": replicatedFrom{Node: mustKey(t, "charlie-node").Verifier, Index: 1, LeafHash: leafOf(g, 0)}})
		}, "a copy of another node's entry"},
		"another operation's entry": {func(t *testing.T, g *fakeTx, r *NodeReceipt) *dc.Event {
			return g.add(t, &dc.Event{Type: dc.EventOperationReceived, Time: at(31 * time.Minute), Actor: dc.Actor{Role: "node"},
				Subject: &dc.Subject{Kind: "operation", ID: opX}}, map[string]any{"node_receipt": r})
		}, "not that node's receipt of operation"},
		"an operation, not a receipt": {func(t *testing.T, g *fakeTx, r *NodeReceipt) *dc.Event {
			return g.put(t, opEvent(dc.EventOperationDeclared, bravoOp, at(10*time.Minute), operation(opA, "bravo", 1, dc.StatePlanned, at(20*time.Minute))))
		}, "not that node's receipt of operation"},
	} {
		t.Run(name, func(t *testing.T) {
			f, g := scenario(t), newFakeTx()
			receiverEntry(t, g, bravo, receiptOf(bravo, 3, leafOf(f, 3), 1), 2)
			r := receiptOf(bravo, 15, leafOf(f, 15), 2)
			e := c.entry(t, g, r)
			leaf := tlog.RecordHash(EntryBytes(e))
			keepCopy(t, f, r, &replicatedFrom{Node: bravo.Verifier, Index: e.Seq - 1, LeafHash: base64.StdEncoding.EncodeToString(leaf[:])})
			b := bundleFor(t, f, k, admin)
			kept := newKeptLog(t, g, bravo, int64(len(g.events)))
			if err := AddNodeReceiptProofs(b, func(string) (KeptPeerLog, error) { return kept, nil }); err != nil {
				t.Fatal(err)
			}
			if _, err := Verify(roundTrip(t, b), k.Verifier); err == nil || !strings.Contains(err.Error(), c.says) {
				t.Errorf("Verify error %v does not say %q", err, c.says)
			}
		})
	}
}

// TestAddNodeReceiptProofsKept: the proof is built only from what the
// node keeps as the copy names it: a kept entry that is not that entry,
// or a kept checkpoint that is not the peer's, is an integrity error; a
// peer whose log is not kept leaves the receipt without proof.
func TestAddNodeReceiptProofsKept(t *testing.T) {
	k, bravo := mustKey(t, origin), mustKey(t, "bravo-node")
	f, g := scenario(t), newFakeTx()
	r := receiptOf(bravo, 15, leafOf(f, 15), 2)
	keepCopy(t, f, r, receiverEntry(t, g, bravo, r, 1))
	b := bundleFor(t, f, k, admin)
	damaged := newKeptLog(t, g, bravo, int64(len(g.events)))
	damaged.drop = true
	foreign := newKeptLog(t, g, mustKey(t, "bravo-node"), int64(len(g.events)))
	for name, l := range map[string]*keptLog{"an entry not kept": damaged, "another node's checkpoint": foreign} {
		if err := AddNodeReceiptProofs(b, func(string) (KeptPeerLog, error) { return l, nil }); !errors.Is(err, ErrIntegrity) {
			t.Errorf("%s: %v, want an integrity error", name, err)
		}
	}
	if err := AddNodeReceiptProofs(b, func(string) (KeptPeerLog, error) { return nil, nil }); err != nil || b.NodeReceipts != nil {
		t.Fatalf("without the peer's log: %v, %+v", err, b.NodeReceipts)
	}
	if _, err := Verify(roundTrip(t, b), k.Verifier); err == nil || !strings.Contains(err.Error(), "no proof that the log of the node") {
		t.Errorf("Verify of the receipt without proof: %v", err)
	}
}

// TestAddNodeReceiptProofsCosignedCheckpoint: the peer's checkpoint a
// node kept may carry signature lines by other keys (a node accepts its
// cosigners' lines on a peer's checkpoint): the bundle carries it signed
// by the peer's key alone, which verifies, rather than failing as damage
// to the node's own store. A kept checkpoint with a second line by the
// peer's key, or none by it, is still an integrity error.
func TestAddNodeReceiptProofsCosignedCheckpoint(t *testing.T) {
	k, bravo := mustKey(t, origin), mustKey(t, "bravo-node")
	f, g := scenario(t), newFakeTx()
	r := receiptOf(bravo, 15, leafOf(f, 15), 2)
	keepCopy(t, f, r, receiverEntry(t, g, bravo, r, 1))
	b := bundleFor(t, f, k, admin)
	kept := newKeptLog(t, g, bravo, int64(len(g.events)))
	own := kept.cp
	kept.cp += strangerLine(t)
	if err := AddNodeReceiptProofs(b, func(string) (KeptPeerLog, error) { return kept, nil }); err != nil {
		t.Fatalf("a kept checkpoint with a cosigner's line: %v", err)
	}
	if len(b.NodeReceipts) != 1 || b.NodeReceipts[0].Checkpoint != own {
		t.Fatalf("the bundle's checkpoint of bravo's log is not bravo's as it signed it: %+v", b.NodeReceipts)
	}
	if _, err := Verify(roundTrip(t, b), k.Verifier); err != nil {
		t.Fatal(err)
	}
	_, line, _ := strings.Cut(own, "\n\n")
	for name, cp := range map[string]string{"a second line by bravo's key": own + line, "no line by bravo's key": strings.TrimSuffix(own, line) + strangerLine(t)} {
		kept.cp = cp
		if err := AddNodeReceiptProofs(b, func(string) (KeptPeerLog, error) { return kept, nil }); !errors.Is(err, ErrIntegrity) {
			t.Errorf("%s: %v, want an integrity error", name, err)
		}
	}
}

// TestNodeReceiptUnsignedOnReceiver: on the receiving node's own log, a
// receipt without a signature of its own is the log's statement, signed
// by the bundle's checkpoint: it is shown with the log's key, which
// --node-key must then name.
func TestNodeReceiptUnsignedOnReceiver(t *testing.T) {
	alpha, bravo := mustKey(t, "alpha-node"), mustKey(t, "bravo-node")
	leaf := "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
	f := newFakeTx()
	f.add(t, &dc.Event{Type: dc.EventOperationDeclared, Time: at(0), Actor: alphaOp, Subject: &dc.Subject{Kind: "operation", ID: opA}},
		map[string]any{"operation": operation(opA, "alpha", 1, dc.StatePlanned, at(2*time.Hour)),
			"replicated": replicatedFrom{Node: alpha.Verifier, Index: 3, LeafHash: leaf}})
	r := receiptOf(mustKey(t, "bravo-node"), 3, leaf, 1) // made under a key since rotated
	f.add(t, &dc.Event{Type: dc.EventOperationReceived, Time: at(31 * time.Minute), Actor: dc.Actor{Role: "node"},
		Subject: &dc.Subject{Kind: "operation", ID: opA}, Audience: []string{"alpha", "bravo"}}, map[string]any{"node_receipt": r})
	tl, err := Verify(bundleFor(t, f, bravo, admin), bravo.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	it := tl.Items[1]
	if it.Key != bravo.Verifier || !strings.Contains(it.Text, "signed by bravo (key "+bravo.Verifier+")") ||
		!strings.Contains(it.Text, "copied here as entry 0") {
		t.Errorf("the receiving node's receipt: key %s, %s", it.Key, it.Text)
	}
	if err := tl.CheckNodeKeys([]string{r.Key}); err == nil {
		t.Errorf("the receipt passed as signed by the key it names, which signed nothing of this bundle")
	}
}

// FuzzNodeReceiptProofs: whatever a bundle's node receipt proofs hold,
// Verify answers without panicking, and accepts only exactly the proofs
// the author's node built: nothing else proves bravo's receipt.
func FuzzNodeReceiptProofs(f *testing.F) {
	b, k, _, _ := provenBundle(f)
	seed, err := json.Marshal(b.NodeReceipts)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`[]`))
	f.Add([]byte(`[{"checkpoint":"","entries":[{"index":3,"data":"{}","leaf_hash":"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=","proof":[]}]}]`))
	f.Add([]byte(strings.Replace(string(seed), `"index":3`, `"index":-1`, 1)))
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
