package record

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
)

// These tests try, against page receipts (operations.received), what a
// dishonest author's node or receiving node could do to make verify say
// that a node received a version it did not receive, or when it did not:
// each must fail the bundle, or show only what the receiving node's
// signed log says.

// provenAs is a's bundle of opA of alpha's log f, with the proofs of its
// copies from the receiving nodes' logs kept (by key).
func provenAs(t testing.TB, f *fakeTx, k *dc.SigningKey, a dc.Actor, kept map[string]*keptLog) *Bundle {
	t.Helper()
	b, err := BuildBundle(ctx, f, origin, int64(len(f.events)), []*dc.SigningKey{k}, opA, viewer(a))
	if err != nil {
		t.Fatal(err)
	}
	if err := AddNodeReceiptProofs(b, func(key string) (KeptPeerLog, error) {
		if l, ok := kept[key]; ok {
			return l, nil
		}
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	return roundTrip(t, b)
}

// receiptLines returns the lines the timeline shows of the receipts of
// entry index.
func receiptLines(tl *Timeline, index int64) []string {
	for _, it := range tl.Items {
		if it.Index == index && !it.Withheld {
			return strings.Split(it.Text, "\n")
		}
	}
	return nil
}

// TestNodeReceiptsAttackOtherOperationNamesBundleEntry: a page receipt
// naming, as a version of another operation, an entry the bundle holds
// (opA's version 2) says nothing of opA: the bundle of opA shows only
// the versions of opA it names, and never that version 2 was received.
func TestNodeReceiptsAttackOtherOperationNamesBundleEntry(t *testing.T) {
	b, k, _ := batchScenario(t, func(f *fakeTx, bravo *dc.SigningKey) *NodeReceipts {
		return batchOf(bravo, ReceivedVersion{Operation: opA, Version: 1, Entry: 3, LeafHash: leafOf(f, 3)},
			ReceivedVersion{Operation: opOther, Version: 2, Entry: 15, LeafHash: leafOf(f, 15)})
	}, nil)
	tl, err := Verify(b, k.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	lines := receiptLines(tl, 25)
	if len(lines) != 1 || !strings.Contains(lines[0], "version 1 of the operation") || strings.Contains(lines[0], "version 2") ||
		strings.Contains(lines[0], "entry 15") {
		t.Errorf("the page receipt naming opA's entry 15 as another operation's shows:\n%s", strings.Join(lines, "\n"))
	}
}

// TestNodeReceiptsAttackWithheldEntry: a version of the operation named
// at an entry the requester may not see is checked by its leaf hash only,
// and the timeline says so; the same receipt fails the bundle of a
// requester who sees that the entry is not that version; and a version
// named at a shown entry with the leaf hash of a withheld one fails.
func TestNodeReceiptsAttackWithheldEntry(t *testing.T) {
	const withheld = 11 // bravo's message to charlie: alpha's liaison may not see it
	for name, c := range map[string]struct {
		v    ReceivedVersion // the second version named, given alpha's log
		as   dc.Actor
		says string // in the error; "" if the bundle verifies
	}{
		"withheld from the requester": {ReceivedVersion{Operation: opA, Version: 2, Entry: withheld}, alphaLO, ""},
		"shown to the requester":      {ReceivedVersion{Operation: opA, Version: 2, Entry: withheld}, admin, "names entry 11 of this log, which is not version 2"},
		"a shown entry, the withheld one's leaf hash": {ReceivedVersion{Operation: opA, Version: 2, Entry: 15, LeafHash: "withheld"}, alphaLO,
			"names entry 15 of this log with leaf hash"},
	} {
		t.Run(name, func(t *testing.T) {
			k, bravo := mustKey(t, origin), mustKey(t, "bravo-node")
			f, g := scenario(t), newFakeTx()
			v := c.v
			if v.LeafHash == "" || v.LeafHash == "withheld" {
				v.LeafHash = leafOf(f, withheld)
			}
			rs := batchOf(bravo, ReceivedVersion{Operation: opA, Version: 1, Entry: 3, LeafHash: leafOf(f, 3)}, v)
			keepBatchCopy(t, f, rs, receiverBatch(t, g, bravo, rs, 1))
			b := provenAs(t, f, k, c.as, map[string]*keptLog{bravo.Verifier: newKeptLog(t, g, bravo, int64(len(g.events)))})
			if i := slices.IndexFunc(b.Entries, func(en Entry) bool { return en.Index == withheld }); i < 0 || b.Entries[i].Withheld() != (c.as == alphaLO) {
				t.Fatalf("entry %d of the bundle of %+v: withheld should be %v", withheld, c.as, c.as == alphaLO)
			}
			tl, err := Verify(b, k.Verifier)
			if c.says != "" {
				if err == nil || !strings.Contains(err.Error(), c.says) {
					t.Errorf("Verify error %v does not say %q", err, c.says)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			lines := receiptLines(tl, 25)
			if len(lines) != 2 || !strings.Contains(lines[1], "the entry received is entry 11 of this bundle (withheld; its leaf hash matches)") {
				t.Errorf("the version named at a withheld entry shows:\n%s", strings.Join(lines, "\n"))
			}
		})
	}
}

// TestNodeReceiptsAttackDuplicates: a page receipt naming one entry twice,
// or one version at two entries of which one is another version's, fails
// the bundle; two page receipts of one version (two entries of the
// receiving node's log) show a line each, each proven by its own entry.
func TestNodeReceiptsAttackDuplicates(t *testing.T) {
	for name, c := range map[string]struct {
		vs   func(f *fakeTx) []ReceivedVersion
		says string
	}{
		"one entry twice": {func(f *fakeTx) []ReceivedVersion {
			v := ReceivedVersion{Operation: opA, Version: 1, Entry: 3, LeafHash: leafOf(f, 3)}
			return []ReceivedVersion{v, v}
		}, "entries[1]: entry 3 does not follow entry 3"},
		"one version at two entries": {func(f *fakeTx) []ReceivedVersion {
			return []ReceivedVersion{{Operation: opA, Version: 2, Entry: 3, LeafHash: leafOf(f, 3)}, {Operation: opA, Version: 2, Entry: 15, LeafHash: leafOf(f, 15)}}
		}, "entries[0] (version 2 of the operation): the node receipt names entry 3 of this log, which is not version 2"},
	} {
		t.Run(name, func(t *testing.T) {
			b, k, _ := batchScenario(t, func(f *fakeTx, bravo *dc.SigningKey) *NodeReceipts { return batchOf(bravo, c.vs(f)...) }, nil)
			if _, err := Verify(b, k.Verifier); err == nil || !strings.Contains(err.Error(), c.says) {
				t.Errorf("Verify error %v does not say %q", err, c.says)
			}
		})
	}
	k, bravo := mustKey(t, origin), mustKey(t, "bravo-node")
	f, g := scenario(t), newFakeTx()
	rs := batchOf(bravo, ReceivedVersion{Operation: opA, Version: 2, Entry: 15, LeafHash: leafOf(f, 15)})
	first := receiverBatch(t, g, bravo, rs, 0)
	again := cloneReceipts(rs)
	again.ReceivedAt = at(33 * time.Minute).Format(time.RFC3339Nano)
	second := receiverBatch(t, g, bravo, again, 0)
	keepBatchCopy(t, f, rs, first)
	keepBatchCopy(t, f, again, second)
	tl, err := Verify(provenAs(t, f, k, admin, map[string]*keptLog{bravo.Verifier: newKeptLog(t, g, bravo, 2)}), k.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	one, two := receiptLines(tl, 25), receiptLines(tl, 26)
	if len(one) != 1 || len(two) != 1 || !strings.Contains(one[0], "at 2026-03-01T10:31:00Z") || !strings.HasSuffix(one[0], "entry 0 of its log, in its signed checkpoint of 2 entries") ||
		!strings.Contains(two[0], "at 2026-03-01T10:33:00Z") || !strings.HasSuffix(two[0], "entry 1 of its log, in its signed checkpoint of 2 entries") {
		t.Errorf("two page receipts of version 2:\n%s\n%s", strings.Join(one, "\n"), strings.Join(two, "\n"))
	}
}

// TestNodeReceiptsAttackAuthorsOwnKey: the author's node can make up a
// page receipt "by bravo" under a key of its own, even its log's key,
// proven by a log of its own making (a checkpoint of any origin signed by
// that key): the bundle is consistent, and the timeline shows the key
// and warns. --node-key with bravo's key, or bravo's descriptor, refuses
// it; the author's own key given as a bare --node-key does not.
func TestNodeReceiptsAttackAuthorsOwnKey(t *testing.T) {
	k, bravo := mustKey(t, origin), mustKey(t, "bravo-node")
	f, g := scenario(t), newFakeTx()
	rs := batchOf(k, ReceivedVersion{Operation: opA, Version: 2, Entry: 15, LeafHash: leafOf(f, 15)}) // key: the author's log's
	keepBatchCopy(t, f, rs, receiverBatch(t, g, k, rs, 0))
	tl, err := Verify(provenAs(t, f, k, admin, map[string]*keptLog{k.Verifier: newKeptLog(t, g, k, 1)}), k.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	if it := tl.Items[len(tl.Items)-1]; it.Key != k.Verifier || !strings.Contains(it.Text, "signed by bravo (key "+k.Verifier+")") {
		t.Errorf("the made-up receipt: key %s, %s", it.Key, it.Text)
	}
	if err := tl.CheckNodeKeys([]string{bravo.Verifier}); err == nil || !strings.Contains(err.Error(), "entry 25") {
		t.Errorf("a receipt made with the author's key passed as bravo's: %v", err)
	}
	if err := tl.CheckNodeParties(map[string][][]string{k.Verifier: {{"alpha"}}}); err == nil {
		t.Errorf("a receipt naming receiver bravo passed with the author's descriptor (alpha)")
	}
	if err := tl.CheckNodeKeys([]string{bravo.Verifier, k.Verifier}); err != nil {
		t.Errorf("CheckNodeKeys given the author's key too: %v", err)
	}
}

// TestNodeReceiptsAttackTwoNodesOneIndex: bravo's and charlie's page
// receipts at the same index of their logs are each proven by their own
// node's checkpoint; --node-key needs both keys, and each descriptor
// binds its node's receipt; a proof of one node's entry shown for the
// other's copy fails.
func TestNodeReceiptsAttackTwoNodesOneIndex(t *testing.T) {
	k, bravo, charlie := mustKey(t, origin), mustKey(t, "bravo-node"), mustKey(t, "charlie-node")
	build := func(t *testing.T) *Bundle {
		f := scenario(t)
		kept := map[string]*keptLog{}
		for _, n := range []struct {
			key   *dc.SigningKey
			party string
		}{{bravo, "bravo"}, {charlie, "charlie"}} {
			g := newFakeTx()
			rs := batchOf(n.key, ReceivedVersion{Operation: opA, Version: 2, Entry: 15, LeafHash: leafOf(f, 15)})
			rs.Receiver = []string{n.party}
			keepBatchCopy(t, f, rs, receiverBatch(t, g, n.key, rs, 2))
			kept[n.key.Verifier] = newKeptLog(t, g, n.key, 3)
		}
		return provenAs(t, f, k, admin, kept)
	}
	b := build(t)
	if len(b.NodeReceipts) != 2 || b.NodeReceipts[0].Entries[0].Index != 2 || b.NodeReceipts[1].Entries[0].Index != 2 {
		t.Fatalf("the bundle's node receipt proofs: %+v", b.NodeReceipts)
	}
	tl, err := Verify(b, k.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	if a, c := receiptLines(tl, 25), receiptLines(tl, 26); len(a) != 1 || len(c) != 1 || !strings.Contains(a[0], "received by bravo's node") || !strings.Contains(c[0], "received by charlie's node") {
		t.Errorf("the two nodes' receipts:\n%s\n%s", a, c)
	}
	if err := tl.CheckNodeKeys([]string{bravo.Verifier}); err == nil || !strings.Contains(err.Error(), "entry 26") {
		t.Errorf("charlie's receipt passed with bravo's key alone: %v", err)
	}
	if err := tl.CheckNodeParties(map[string][][]string{bravo.Verifier: {{"charlie"}}, charlie.Verifier: {{"bravo"}}}); err == nil {
		t.Errorf("the receipts passed with the nodes' descriptors swapped")
	}
	if err := tl.CheckNodeParties(map[string][][]string{bravo.Verifier: {{"bravo"}}, charlie.Verifier: {{"charlie"}}}); err != nil {
		t.Errorf("CheckNodeParties with each node's descriptor: %v", err)
	}
	for name, change := range map[string]func(b *Bundle){
		"bravo's entry as charlie's": func(b *Bundle) { b.NodeReceipts[1].Entries = slices.Clone(b.NodeReceipts[0].Entries) },
		"the checkpoints swapped": func(b *Bundle) {
			b.NodeReceipts[0].Checkpoint, b.NodeReceipts[1].Checkpoint = b.NodeReceipts[1].Checkpoint, b.NodeReceipts[0].Checkpoint
		},
		"one node's proof twice": func(b *Bundle) { b.NodeReceipts[1] = b.NodeReceipts[0] },
	} {
		c := build(t)
		change(c)
		if _, err := Verify(roundTrip(t, c), k.Verifier); err == nil {
			t.Errorf("%s: the bundle verified", name)
		}
	}
}

// TestNodeReceiptsAttackCopiesOfOneEntry: two copies naming one entry of
// the receiving node's log get one proof of it; a second copy naming
// that entry with another leaf hash (made up by the author's node) is
// never proven by it: the proof is refused as damaged, or the bundle
// fails.
func TestNodeReceiptsAttackCopiesOfOneEntry(t *testing.T) {
	for _, fakeFirst := range []bool{false, true} {
		k, bravo := mustKey(t, origin), mustKey(t, "bravo-node")
		f, g := scenario(t), newFakeTx()
		rs := pageOf(f, bravo)
		from := receiverBatch(t, g, bravo, rs, 1)
		fake := *from
		fake.LeafHash = leafOf(g, 0)
		copies := []*replicatedFrom{from, &fake}
		if fakeFirst {
			copies[0], copies[1] = copies[1], copies[0]
		}
		for _, c := range copies {
			keepBatchCopy(t, f, rs, c)
		}
		b, err := BuildBundle(ctx, f, origin, int64(len(f.events)), []*dc.SigningKey{k}, opA, viewer(admin))
		if err != nil {
			t.Fatal(err)
		}
		kept := newKeptLog(t, g, bravo, int64(len(g.events)))
		err = AddNodeReceiptProofs(b, func(string) (KeptPeerLog, error) { return kept, nil })
		if err == nil {
			_, err = Verify(roundTrip(t, b), k.Verifier)
			if err == nil || !strings.Contains(err.Error(), "but the copy names leaf hash") {
				t.Errorf("fake copy first %v: Verify error %v", fakeFirst, err)
			}
		} else if !errors.Is(err, ErrIntegrity) {
			t.Errorf("fake copy first %v: AddNodeReceiptProofs: %v", fakeFirst, err)
		}
	}
}

// TestNodeReceiptsAttackCosignerHosted: the witnesses list may name the
// parties a cosigning node hosted before, which a page receipt of then
// may name; a list naming bravo's node as charlie's, even with parties
// it hosted before other than bravo, fails the bundle.
func TestNodeReceiptsAttackCosignerHosted(t *testing.T) {
	for name, c := range map[string]struct {
		parties []string
		hosted  [][]string
		fails   bool
	}{
		"now bravo and delta, bravo before": {[]string{"bravo", "delta"}, [][]string{{"bravo"}}, false},
		"now bravo and delta":               {[]string{"bravo", "delta"}, nil, true},
		"charlie, delta before":             {[]string{"charlie"}, [][]string{{"delta"}}, true},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := verifyWitnessedPage(t, c.parties, c.hosted)
			if c.fails != (err != nil) || c.fails && !strings.Contains(err.Error(), "its receipt at entry 25 names bravo") {
				t.Errorf("Verify: %v; want it to fail: %v", err, c.fails)
			}
		})
	}
}

// TestNodeReceiptsAttackVersionOutOfPage: the author's node cannot show
// one version of a page receipt as a receipt of that version alone
// (operation.received) made from the page's entry: the entry is not that
// node's receipt of one version.
func TestNodeReceiptsAttackVersionOutOfPage(t *testing.T) {
	k, bravo := mustKey(t, origin), mustKey(t, "bravo-node")
	f, g := scenario(t), newFakeTx()
	rs := pageOf(f, bravo)
	keepCopy(t, f, rs.Receipt(2), receiverBatch(t, g, bravo, rs, 1))
	b := provenAs(t, f, k, admin, map[string]*keptLog{bravo.Verifier: newKeptLog(t, g, bravo, 2)})
	if _, err := Verify(b, k.Verifier); err == nil || !strings.Contains(err.Error(), "it is a operations.received event, not that node's receipt of operation") {
		t.Errorf("version 2 out of bravo's page receipt: %v", err)
	}
}
