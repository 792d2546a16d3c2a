package record

import (
	"bytes"
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"golang.org/x/mod/sumdb/tlog"
)

// opOther is an operation of alpha's whose entry no bundle of opA holds.
const opOther = "0b7e6a1c-0000-4000-8000-00000000000e"

// batchOf is node's receipt (receiver bravo) of versions of alpha's
// operations in one entry.
func batchOf(node *dc.SigningKey, vs ...ReceivedVersion) *NodeReceipts {
	return &NodeReceipts{Party: "alpha", Receiver: []string{"bravo"}, Key: node.Verifier,
		ReceivedAt: at(31 * time.Minute).Format(time.RFC3339Nano), Entries: vs}
}

// pageOf is node's receipt of what a page of alpha's log f brought it:
// version 1 of opA (entry 3), a version of another operation (entry 7,
// not about opA) and version 2 of opA (entry 15).
func pageOf(f *fakeTx, node *dc.SigningKey) *NodeReceipts {
	return batchOf(node, ReceivedVersion{Operation: opA, Version: 1, Entry: 3, LeafHash: leafOf(f, 3)},
		ReceivedVersion{Operation: opOther, Version: 1, Entry: 7, LeafHash: leafOf(f, 7)},
		ReceivedVersion{Operation: opA, Version: 2, Entry: 15, LeafHash: leafOf(f, 15)})
}

// cloneReceipts returns a copy of rs sharing nothing with it.
func cloneReceipts(rs *NodeReceipts) *NodeReceipts {
	c := *rs
	c.Receiver, c.Entries = slices.Clone(rs.Receiver), slices.Clone(rs.Entries)
	return &c
}

// batchEvent is an operations.received event as a node writes it: no
// subject, the author party then the receivers as audience.
func batchEvent(rs *NodeReceipts) *dc.Event {
	return &dc.Event{Type: dc.EventOperationsReceived, Time: at(31 * time.Minute), Actor: dc.Actor{Role: "node"},
		Audience: append([]string{rs.Party}, rs.Receiver...)}
}

// receiverBatch appends to the receiving node's log g its own receipts
// rs, after filler entries, and returns where the copy the author's node
// keeps of it comes from.
func receiverBatch(t testing.TB, g *fakeTx, node *dc.SigningKey, rs *NodeReceipts, filler int) *replicatedFrom {
	t.Helper()
	for range filler {
		g.add(t, &dc.Event{Type: dc.EventPartyAdded, Time: at(0), Actor: adminActor, Subject: &dc.Subject{Kind: "party", ID: "bravo"}},
			map[string]any{"party": map[string]string{"id": "bravo"}})
	}
	e := g.add(t, batchEvent(rs), map[string]any{"node_receipts": rs})
	leaf := tlog.RecordHash(EntryBytes(e))
	return &replicatedFrom{Node: node.Verifier, Index: e.Seq - 1, LeafHash: base64.StdEncoding.EncodeToString(leaf[:])}
}

// keepBatchCopy appends to the author's log f the copy of receipts rs
// the author's node keeps: the whole entry, "replicated" last.
func keepBatchCopy(t testing.TB, f *fakeTx, rs *NodeReceipts, from *replicatedFrom) {
	t.Helper()
	e := batchEvent(rs)
	e.Time = at(32 * time.Minute)
	f.add(t, e, map[string]any{"node_receipts": rs, "replicated": from})
}

// batchScenario is alpha's log holding the copy of bravo's node's
// receipts of a page (made by build from alpha's log), bravo's log
// holding them after filler entries and a later receipt, and the admin's
// bundle of opA with the proof of the copy from bravo's log. change, if
// not nil, alters the copy alpha's node keeps.
func batchScenario(t testing.TB, build func(f *fakeTx, bravo *dc.SigningKey) *NodeReceipts, change func(*NodeReceipts)) (b *Bundle, k, bravo *dc.SigningKey) {
	t.Helper()
	f, g, k, bravo := batchLogs(t, build, change)
	return provenFor(t, f, g, k, bravo), k, bravo
}

// batchLogs is the logs of batchScenario: alpha's f, bravo's g, and
// their nodes' keys.
func batchLogs(t testing.TB, build func(f *fakeTx, bravo *dc.SigningKey) *NodeReceipts, change func(*NodeReceipts)) (f, g *fakeTx, k, bravo *dc.SigningKey) {
	t.Helper()
	k, bravo = mustKey(t, origin), mustKey(t, "bravo-node")
	f, g = scenario(t), newFakeTx()
	rs := build(f, bravo)
	from := receiverBatch(t, g, bravo, rs, 3)
	receiverEntry(t, g, bravo, receiptOf(bravo, 3, leafOf(f, 3), 1), 0) // bravo's log grew past the batch
	kept := cloneReceipts(rs)
	if change != nil {
		change(kept)
	}
	keepBatchCopy(t, f, kept, from)
	return f, g, k, bravo
}

// provenFor is the admin's bundle of opA of alpha's log f, with the
// proofs of its copies from bravo's log g.
func provenFor(t testing.TB, f, g *fakeTx, k, bravo *dc.SigningKey) *Bundle {
	t.Helper()
	return provenAs(t, f, k, admin, map[string]*keptLog{bravo.Verifier: newKeptLog(t, g, bravo, int64(len(g.events)))})
}

// TestNodeReceiptsOnAuthor: on the author's node the copy of a receiving
// node's receipts of a page is in the bundle of each operation it names;
// the bundle carries the receiving node's entry with its proof, and
// verify shows each version of the operation as a receipt of that
// version alone would show it, one line each, leaving out the version of
// the other operation. The keys and parties given with --node-key are
// checked against it.
func TestNodeReceiptsOnAuthor(t *testing.T) {
	b, k, bravo := batchScenario(t, pageOf, nil)
	if len(b.NodeReceipts) != 1 || len(b.NodeReceipts[0].Entries) != 1 || b.NodeReceipts[0].Entries[0].Index != 3 {
		t.Fatalf("the bundle's node receipt proofs: %+v", b.NodeReceipts)
	}
	tl, err := Verify(b, k.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	it := tl.Items[len(tl.Items)-1]
	if it.Type != dc.EventOperationsReceived || len(it.Received) != 2 || it.Key != bravo.Verifier || it.Version != 1 || it.LeadTime == nil {
		t.Fatalf("the receipts' item: %+v", it)
	}
	lines := strings.Split(it.Text, "\n")
	want := []string{
		"received by bravo's node at 2026-03-01T10:31:00Z, signed by bravo (key " + bravo.Verifier + "): version 1 of the operation of alpha; " +
			"first volume starts 2026-03-01T12:00:00Z; lead time 1h29m0s; the entry received is entry 3 of this bundle; " +
			"the receipt is entry 3 of its log, in its signed checkpoint of 5 entries",
		"received by bravo's node at 2026-03-01T10:31:00Z, signed by bravo (key " + bravo.Verifier + "): version 2 of the operation of alpha; " +
			"first volume starts 2026-03-01T11:10:00Z; lead time 39m0s; the entry received is entry 15 of this bundle; " +
			"the receipt is entry 3 of its log, in its signed checkpoint of 5 entries",
	}
	if !slices.Equal(lines, want) {
		t.Errorf("the receipts' text:\n%s\nwant:\n%s", it.Text, strings.Join(want, "\n"))
	}
	for i, v := range it.Received {
		if v.Version != i+1 || v.Text != want[i] || v.LeadTime == nil {
			t.Errorf("Received[%d] = %+v", i, v)
		}
	}
	var out bytes.Buffer
	if err := tl.Write(&out); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "entry 25: received by bravo's node"); n != 2 || strings.Contains(out.String(), opOther) ||
		!strings.Contains(out.String(), "give each receiving node's key (--node-key)") {
		t.Errorf("the timeline printed %d lines of the receipts of entry 25:\n%s", n, out.String())
	}
	if err := tl.CheckNodeKeys([]string{mustKey(t, "charlie-node").Verifier}); err == nil || !strings.Contains(err.Error(), "entry 25") {
		t.Errorf("the receipts passed as made with another node's key: %v", err)
	}
	if err := tl.CheckNodeParties(map[string][][]string{bravo.Verifier: {{"charlie"}}}); err == nil || !strings.Contains(err.Error(), "entry 25") {
		t.Errorf("the receipts naming receiver bravo passed as made by a node hosting charlie: %v", err)
	}
	if err := tl.CheckNodeKeys([]string{bravo.Verifier}); err != nil {
		t.Errorf("CheckNodeKeys with bravo's key: %v", err)
	}
	if err := tl.CheckNodeParties(map[string][][]string{bravo.Verifier: {{"bravo"}}}); err != nil {
		t.Errorf("CheckNodeParties with bravo's parties: %v", err)
	}
}

// TestNodeReceiptsOneVersion: a page receipt naming one version of the
// operation shows exactly the line a receipt of that version alone
// shows.
func TestNodeReceiptsOneVersion(t *testing.T) {
	b, k, _ := batchScenario(t, func(f *fakeTx, bravo *dc.SigningKey) *NodeReceipts {
		return batchOf(bravo, ReceivedVersion{Operation: opA, Version: 2, Entry: 15, LeafHash: leafOf(f, 15)})
	}, nil)
	tl, err := Verify(b, k.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	one, k1, _, _ := provenBundle(t) // the same receipt alone (another key), entry 3 of bravo's log of 6
	tl1, err := Verify(one, k1.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	got, want := tl.Items[len(tl.Items)-1], tl1.Items[len(tl1.Items)-1]
	wantText := strings.Replace(strings.ReplaceAll(want.Text, want.Key, got.Key), "checkpoint of 6 entries", "checkpoint of 5 entries", 1)
	if got.Text != wantText || got.Version != want.Version || *got.LeadTime != *want.LeadTime || !slices.Equal(got.Receiver, want.Receiver) {
		t.Errorf("the page receipt of one version:\n%+v\nthe receipt of that version alone:\n%+v", got, want)
	}
}

// TestNodeReceiptsProofShared: copies and versions that name one entry of
// the receiving node's log get one proof of it; a receipt of one version
// of the same node shares its checkpoint.
func TestNodeReceiptsProofShared(t *testing.T) {
	b, k := sharedBundle(t)
	if len(b.NodeReceipts) != 1 || len(b.NodeReceipts[0].Entries) != 2 || b.NodeReceipts[0].Entries[0].Index != 1 || b.NodeReceipts[0].Entries[1].Index != 2 {
		t.Fatalf("the bundle's node receipt proofs: %+v", b.NodeReceipts)
	}
	tl, err := Verify(b, k.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(tl.Items); tl.Items[n-3].Text != tl.Items[n-2].Text || len(tl.Items[n-2].Received) != 2 || tl.Items[n-1].Type != dc.EventOperationReceived {
		t.Errorf("the copies' items: %+v", tl.Items[n-3:])
	}
}

// sharedBundle is the admin's bundle of opA on alpha's log holding two
// copies of bravo's node's page receipt (entry 1 of its log) and a copy
// of its receipt of version 2 alone (entry 2), with their proofs.
func sharedBundle(t testing.TB) (*Bundle, *dc.SigningKey) {
	t.Helper()
	k, bravo := mustKey(t, origin), mustKey(t, "bravo-node")
	f, g := scenario(t), newFakeTx()
	rs := pageOf(f, bravo)
	from := receiverBatch(t, g, bravo, rs, 1)
	r := receiptOf(bravo, 15, leafOf(f, 15), 2)
	one := receiverEntry(t, g, bravo, r, 0)
	keepBatchCopy(t, f, rs, from)
	keepBatchCopy(t, f, rs, from)
	keepCopy(t, f, r, one)
	return provenFor(t, f, g, k, bravo), k
}

// TestNodeReceiptsCopyTampering: the copy on the author's log must hold
// exactly the receipts of the receiving node's entry — a byte changed of
// any version, of the operation or not, fails — and that entry must be
// the node's own page receipt; the bundle fails naming what failed.
func TestNodeReceiptsCopyTampering(t *testing.T) {
	for name, c := range map[string]struct {
		change func(rs *NodeReceipts)
		says   string
	}{
		"the time":                        {func(rs *NodeReceipts) { rs.ReceivedAt = strings.Replace(rs.ReceivedAt, "2026", "2027", 1) }, "the receipts were altered"},
		"a receiver":                      {func(rs *NodeReceipts) { rs.Receiver[0] = "bravp" }, "the receipts were altered"},
		"the author":                      {func(rs *NodeReceipts) { rs.Party = "alphb" }, "the receipts were altered"},
		"the other operation's leaf hash": {func(rs *NodeReceipts) { rs.Entries[1].LeafHash = flipChar(rs.Entries[1].LeafHash, 2) }, "the receipts were altered"},
		"the other operation's version":   {func(rs *NodeReceipts) { rs.Entries[1].Version = 2 }, "the receipts were altered"},
		"a version dropped":               {func(rs *NodeReceipts) { rs.Entries = rs.Entries[1:] }, "the receipts were altered"},
		"the key":                         {func(rs *NodeReceipts) { rs.Key = mustKey(t, "bravo-node").Verifier }, "the node receipts name key bravo-node"},
	} {
		t.Run(name, func(t *testing.T) {
			b, k, _ := batchScenario(t, pageOf, c.change)
			if _, err := Verify(b, k.Verifier); err == nil || !strings.Contains(err.Error(), c.says) || !strings.Contains(err.Error(), "log index 25") {
				t.Errorf("Verify error %v does not say %q of entry 25", err, c.says)
			}
		})
	}
	b, k, _ := batchScenario(t, pageOf, nil)
	en := &b.NodeReceipts[0].Entries[0]
	en.Data = strings.Replace(en.Data, `"received_at":"2026`, `"received_at":"2027`, 1)
	if _, err := Verify(b, k.Verifier); err == nil || !strings.Contains(err.Error(), "does not hash to its leaf hash") {
		t.Errorf("a changed byte of the receiving node's entry: %v", err)
	}
	b, k, _ = batchScenario(t, pageOf, nil)
	b.NodeReceipts = nil
	if _, err := Verify(b, k.Verifier); err == nil || !strings.Contains(err.Error(), "no proof that the log of the node of key bravo-node") {
		t.Errorf("the copy without proof: %v", err)
	}
}

// flipChar changes the character at i of s to another base64 one.
func flipChar(s string, i int) string {
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}

// TestNodeReceiptsProofOfAnotherEntry: the receiving node's entry a page
// copy is proven by must be its own operations.received entry, without a
// subject: a receipt of one version, a page receipt with a subject or a
// copy in its log fails, though it is in the log and its checkpoint is
// signed by the node.
func TestNodeReceiptsProofOfAnotherEntry(t *testing.T) {
	k, bravo := mustKey(t, origin), mustKey(t, "bravo-node")
	for name, c := range map[string]struct {
		entry func(t *testing.T, g *fakeTx, rs *NodeReceipts) *dc.Event
		says  string
	}{
		"a receipt of one version": {func(t *testing.T, g *fakeTx, rs *NodeReceipts) *dc.Event {
			return g.add(t, &dc.Event{Type: dc.EventOperationReceived, Time: at(31 * time.Minute), Actor: dc.Actor{Role: "node"},
				Subject: &dc.Subject{Kind: "operation", ID: opA}}, map[string]any{"node_receipt": rs.Receipt(0), "node_receipts": rs})
		}, "not that node's receipt of the versions"},
		"a subject": {func(t *testing.T, g *fakeTx, rs *NodeReceipts) *dc.Event {
			e := batchEvent(rs)
			e.Subject = &dc.Subject{Kind: "operation", ID: opA}
			return g.add(t, e, map[string]any{"node_receipts": rs})
		}, "not that node's receipt of the versions"},
		"a copy in its log": {func(t *testing.T, g *fakeTx, rs *NodeReceipts) *dc.Event {
			return g.add(t, batchEvent(rs), map[string]any{"node_receipts": rs,
				"replicated": replicatedFrom{Node: mustKey(t, "charlie-node").Verifier, Index: 1, LeafHash: leafOf(g, 0)}})
		}, "a copy of another node's entry"},
	} {
		t.Run(name, func(t *testing.T) {
			f, g := scenario(t), newFakeTx()
			receiverEntry(t, g, bravo, receiptOf(bravo, 3, leafOf(f, 3), 1), 2)
			rs := pageOf(f, bravo)
			e := c.entry(t, g, rs)
			leaf := tlog.RecordHash(EntryBytes(e))
			keepBatchCopy(t, f, rs, &replicatedFrom{Node: bravo.Verifier, Index: e.Seq - 1, LeafHash: base64.StdEncoding.EncodeToString(leaf[:])})
			if _, err := Verify(provenFor(t, f, g, k, bravo), k.Verifier); err == nil || !strings.Contains(err.Error(), c.says) {
				t.Errorf("Verify error %v does not say %q", err, c.says)
			}
		})
	}
}

// TestNodeReceiptsNamesEntry: each version of the operation a page
// receipt names must be an entry of the bundle before it, of the leaf
// hash it names and, if shown, that version; and the whole page must
// have the form of one (CheckNodeReceiptsFields), the versions of other
// operations too. Otherwise the bundle fails, naming the version.
func TestNodeReceiptsNamesEntry(t *testing.T) {
	page := func(change func(f *fakeTx, rs *NodeReceipts)) func(f *fakeTx, bravo *dc.SigningKey) *NodeReceipts {
		return func(f *fakeTx, bravo *dc.SigningKey) *NodeReceipts {
			rs := pageOf(f, bravo)
			change(f, rs)
			return rs
		}
	}
	for name, c := range map[string]struct {
		change func(f *fakeTx, rs *NodeReceipts)
		says   string
	}{
		"another leaf hash": {func(f *fakeTx, rs *NodeReceipts) { rs.Entries[2].LeafHash = leafOf(f, 3) },
			"entries[2] (version 2 of the operation): the node receipt names entry 15 of this log with leaf hash"},
		"an entry not in the bundle": {func(f *fakeTx, rs *NodeReceipts) {
			rs.Entries[0] = ReceivedVersion{Operation: opA, Version: 1, Entry: 4, LeafHash: leafOf(f, 4)}
			rs.Entries[1].Entry = 5
		}, "entries[0] (version 1 of the operation): the node receipt names entry 4 of this log as received, which is not an entry of this bundle before it"},
		"another version's entry": {func(f *fakeTx, rs *NodeReceipts) { rs.Entries[0].Version = 2 },
			"entries[0] (version 2 of the operation): the node receipt names entry 3 of this log, which is not version 2"},
		"entries out of order": {func(f *fakeTx, rs *NodeReceipts) { rs.Entries[1].Entry = 2 },
			"entries[1]: entry 2 does not follow entry 3"},
		"the other operation without a version": {func(f *fakeTx, rs *NodeReceipts) { rs.Entries[1].Version = 0 },
			"entries[1]: node receipt: version 0"},
		"no receiver": {func(f *fakeTx, rs *NodeReceipts) { rs.Receiver = nil },
			"does not name the receiving node's parties"},
		"no time": {func(f *fakeTx, rs *NodeReceipts) { rs.ReceivedAt = "" },
			"received time"},
	} {
		t.Run(name, func(t *testing.T) {
			b, k, _ := batchScenario(t, page(c.change), nil)
			if _, err := Verify(b, k.Verifier); err == nil || !strings.Contains(err.Error(), c.says) || !strings.Contains(err.Error(), "log index 25") {
				t.Errorf("Verify error %v does not say %q of entry 25", err, c.says)
			}
		})
	}
}

// receiverPage is bravo's node's log (the receiving node's) holding
// copies of versions 1 and 2 of opA made from entries 3 and 15 of
// alpha's log, a copy of another operation's version, then its receipt
// of them, rs (given the leaf hashes of alpha's entries: leaf).
func receiverPage(t testing.TB, alpha *dc.SigningKey, page func(leaf func(int64) string) *NodeReceipts) *fakeTx {
	t.Helper()
	leaf := func(i int64) string {
		h := tlog.RecordHash([]byte{byte(i)})
		return base64.StdEncoding.EncodeToString(h[:])
	}
	f := newFakeTx()
	for _, v := range []struct {
		op      string
		version int
		entry   int64
	}{{opA, 1, 3}, {opOther, 1, 7}, {opA, 2, 15}} {
		f.add(t, &dc.Event{Type: dc.EventOperationDeclared, Time: at(time.Duration(v.entry) * time.Minute), Actor: alphaOp,
			Subject: &dc.Subject{Kind: "operation", ID: v.op}},
			map[string]any{"operation": operation(v.op, "alpha", v.version, dc.StatePlanned, at(2*time.Hour)),
				"replicated": replicatedFrom{Node: alpha.Verifier, Index: v.entry, LeafHash: leaf(v.entry)}})
	}
	rs := page(leaf)
	f.add(t, batchEvent(rs), map[string]any{"node_receipts": rs})
	return f
}

// TestNodeReceiptsOnReceiver: on the receiving node's own log the page
// receipt is the log's statement, signed by the bundle's checkpoint: it
// is in the bundle of each operation it names, and shows each version
// of the operation with the copy of the author's entry it received.
// A version whose copy is not in the bundle, or is of another version,
// fails the bundle.
func TestNodeReceiptsOnReceiver(t *testing.T) {
	alpha, bravo := mustKey(t, "alpha-node"), mustKey(t, "bravo-node")
	rotated := mustKey(t, "bravo-node") // the key the receipts name, since rotated
	page := func(change func(rs *NodeReceipts)) func(leaf func(int64) string) *NodeReceipts {
		return func(leaf func(int64) string) *NodeReceipts {
			rs := batchOf(rotated, ReceivedVersion{Operation: opA, Version: 1, Entry: 3, LeafHash: leaf(3)},
				ReceivedVersion{Operation: opOther, Version: 1, Entry: 7, LeafHash: leaf(7)},
				ReceivedVersion{Operation: opA, Version: 2, Entry: 15, LeafHash: leaf(15)})
			change(rs)
			return rs
		}
	}
	b := bundleFor(t, receiverPage(t, alpha, page(func(*NodeReceipts) {})), bravo, admin)
	if len(b.Entries) != 3 || b.Entries[2].Index != 3 {
		t.Fatalf("the bundle of opA holds entries %+v, want 0, 2 and 3", b.Entries)
	}
	tl, err := Verify(b, bravo.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	it := tl.Items[2]
	lines := strings.Split(it.Text, "\n")
	if it.Key != bravo.Verifier || len(lines) != 2 ||
		!strings.Contains(lines[0], "signed by bravo (key "+bravo.Verifier+"): version 1 of the operation of alpha") ||
		!strings.HasSuffix(lines[0], "the entry received is entry 3 of the author's log, copied here as entry 0") ||
		!strings.Contains(lines[1], "version 2 of the operation of alpha") ||
		!strings.HasSuffix(lines[1], "the entry received is entry 15 of the author's log, copied here as entry 2") {
		t.Errorf("the receiving node's page receipt: key %s:\n%s", it.Key, it.Text)
	}
	if err := tl.CheckNodeKeys([]string{rotated.Verifier}); err == nil {
		t.Errorf("the receipts passed as signed by the key they name, which signed nothing of this bundle")
	}
	for name, c := range map[string]struct {
		change func(rs *NodeReceipts)
		says   string
	}{
		"another entry of the author's log": {func(rs *NodeReceipts) { rs.Entries[2].Entry = 16 },
			"entries[2] (version 2 of the operation): the node receipt names entry 16 of the author's log"},
		"another leaf hash": {func(rs *NodeReceipts) { rs.Entries[0].LeafHash = rs.Entries[1].LeafHash },
			"entries[0] (version 1 of the operation): the node receipt names entry 3 of the author's log"},
		"another version": {func(rs *NodeReceipts) { rs.Entries[0].Version = 2 },
			"no entry of this bundle before it is a copy of version 2"},
		"the other operation without a version": {func(rs *NodeReceipts) { rs.Entries[1].Version = 0 },
			"entries[1]: node receipt: version 0"},
	} {
		if _, err := Verify(bundleFor(t, receiverPage(t, alpha, page(c.change)), bravo, admin), bravo.Verifier); err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: Verify error %v does not say %q", name, err, c.says)
		}
	}
}

// TestNodeReceiptsScope: a page receipt is about each operation it names
// a version of, and no other; one whose body does not read fails the
// bundle, as for any other event.
func TestNodeReceiptsScope(t *testing.T) {
	bravo := mustKey(t, "bravo-node")
	rs := batchOf(bravo, ReceivedVersion{Operation: opX, Version: 1, Entry: 4, LeafHash: "h"},
		ReceivedVersion{Operation: opA, Version: 2, Entry: 15, LeafHash: "h"})
	f := newFakeTx()
	e := f.add(t, batchEvent(rs), map[string]any{"node_receipts": rs})
	for op, want := range map[string]bool{opA: true, opX: true, opB: false} {
		if got, err := newScope(op).relate(e); got != want || err != nil {
			t.Errorf("about %s: %v, %v; want %v", op, got, err, want)
		}
	}
	for _, body := range []string{`{"node_receipts":null}`, `{}`, `{"node_receipts":[]}`} {
		e.Data = []byte(body)
		if _, err := newScope(opA).relate(e); err == nil {
			t.Errorf("the body %s read", body)
		}
	}
	g := scenario(t)
	g.add(t, batchEvent(rs), map[string]any{"node_receipts": "no"})
	if _, err := BuildBundle(ctx, g, origin, int64(len(g.events)), []*dc.SigningKey{mustKey(t, origin)}, opA, viewer(admin)); err == nil ||
		!strings.Contains(err.Error(), "operations.received") {
		t.Errorf("BuildBundle over an unreadable page receipt: %v", err)
	}
}

// TestNodeReceiptsCosignerParties: a page receipt binds the parties of
// its node's cosignature as a receipt of one version does: a witnesses
// list naming bravo's node as charlie's fails the bundle.
func TestNodeReceiptsCosignerParties(t *testing.T) {
	for as, fails := range map[string]bool{"bravo": false, "charlie": true} {
		_, err := verifyWitnessedPage(t, []string{as}, nil)
		if failed := err != nil && strings.Contains(err.Error(), "its receipt at entry 25 names bravo"); failed != fails || (!fails && err != nil) {
			t.Errorf("bravo's node named as %s's: %v", as, err)
		}
	}
}

// verifyWitnessedPage verifies the admin's bundle of a page receipt's
// scenario (batchLogs, provenFor) whose checkpoint bravo's node cosigned,
// the witnesses list naming that node as hosting parties (and hosted
// before).
func verifyWitnessedPage(t *testing.T, parties []string, hosted [][]string) (*Timeline, error) {
	t.Helper()
	f, g, k, bravo := batchLogs(t, pageOf, nil)
	b := provenFor(t, f, g, k, bravo)
	cp, err := Checkpoint(ctx, f, origin, int64(len(f.events)), []*dc.SigningKey{k})
	if err != nil {
		t.Fatal(err)
	}
	co, err := Cosign(cp, bravo.Signer, at(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := AddWitnessed(ctx, f, b, []*dc.SigningKey{k}, []PeerWitness{{Key: bravo.Verifier, Parties: parties, Hosted: hosted, Cosigned: string(co)}}); err != nil {
		t.Fatal(err)
	}
	return Verify(roundTrip(t, b), k.Verifier)
}
