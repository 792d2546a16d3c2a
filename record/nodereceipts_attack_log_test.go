package record

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"golang.org/x/mod/sumdb/tlog"
)

// More attacks on page receipts (see nodereceipts_attack_test.go): on
// the bytes a bundle carries, on the scope of the log's entries, and on
// the receiving node's own log.

// TestNodeReceiptsAttackOneByte: no single byte changed of a page
// receipt's copy or of its proof is accepted unless the bundle still
// reads as exactly the one built (JSON's own leeway, such as a field
// name's case): each byte of the proofs as carried and of the copy's
// entry, but within the entries' data (which their leaf hashes cover)
// one byte in sixteen.
func TestNodeReceiptsAttackOneByte(t *testing.T) {
	type carried struct {
		Copy   Entry              `json:"copy"`
		Proofs []NodeReceiptProof `json:"proofs"`
	}
	b, k, _ := batchScenario(t, pageOf, nil)
	last := len(b.Entries) - 1
	raw, err := json.Marshal(carried{b.Entries[last], b.NodeReceipts})
	if err != nil {
		t.Fatal(err)
	}
	inData := make([]bool, len(raw))
	for _, d := range []string{b.Entries[last].Data, b.NodeReceipts[0].Entries[0].Data} {
		enc, _ := json.Marshal(d)
		at := bytes.Index(raw, enc)
		if at < 0 {
			t.Fatalf("no data %.40s… in %.80s…", enc, raw)
		}
		for i := at + 1; i < at+len(enc)-1; i++ {
			inData[i] = true
		}
	}
	accepted, tried := 0, 0
	for i := range raw {
		if inData[i] && i%16 != 0 {
			continue
		}
		changed := slices.Clone(raw)
		if c := raw[i] | 0x20; c >= 'a' && c <= 'z' {
			changed[i] ^= 0x20 // another letter
		} else {
			changed[i] ^= 1
		}
		var v carried
		if json.Unmarshal(changed, &v) != nil {
			continue
		}
		tried++
		c := *b
		c.Entries = slices.Clone(b.Entries)
		c.Entries[last], c.NodeReceipts = v.Copy, v.Proofs
		if _, err := Verify(&c, k.Verifier); err == nil {
			if !reflect.DeepEqual(v.Copy, b.Entries[last]) || !reflect.DeepEqual(v.Proofs, b.NodeReceipts) {
				t.Fatalf("byte %d changed, accepted: %q", i, changed[max(0, i-20):min(len(changed), i+20)])
			}
			accepted++
		}
	}
	t.Logf("%d of %d bundles with a byte changed read as the bundle built", accepted, tried)
}

// TestNodeReceiptsAttackScope: a page receipt whose body does not read,
// anywhere in the log, fails the bundle of every operation, as does a
// conflict whose body does not read; a receipt of one version is read
// by its subject alone, so one whose body does not read fails only when
// verified, in its own operation's bundle. A page receipt that reads but
// is malformed fails only the bundles of the operations it names.
func TestNodeReceiptsAttackScope(t *testing.T) {
	k := mustKey(t, origin)
	bravo := mustKey(t, "bravo-node")
	build := func(t *testing.T, add func(f *fakeTx), op string) (*Bundle, error) {
		f := scenario(t)
		add(f)
		return BuildBundle(ctx, f, origin, int64(len(f.events)), []*dc.SigningKey{k}, op, viewer(admin))
	}
	for name, c := range map[string]struct {
		add       func(f *fakeTx)
		buildFail bool // BuildBundle of opX fails
	}{
		"an unreadable page receipt": {func(f *fakeTx) {
			f.add(t, batchEvent(batchOf(bravo)), map[string]any{"node_receipts": map[string]any{"entries": "no"}})
		}, true},
		"an unreadable conflict": {func(f *fakeTx) {
			f.add(t, &dc.Event{Type: dc.EventConflictOpened, Time: at(time.Hour), Actor: bravoOp, Subject: &dc.Subject{Kind: "conflict", ID: c2}},
				map[string]any{"conflict": "no"})
		}, true},
		"an unreadable receipt of one version of opA": {func(f *fakeTx) {
			f.add(t, &dc.Event{Type: dc.EventOperationReceived, Time: at(time.Hour), Actor: dc.Actor{Role: "node"}, Subject: &dc.Subject{Kind: "operation", ID: opA}},
				map[string]any{"node_receipt": "no"})
		}, false},
		"a malformed page receipt of opA": {func(f *fakeTx) {
			rs := batchOf(bravo, ReceivedVersion{Operation: opA, Version: 0, Entry: 3, LeafHash: leafOf(f, 3)})
			f.add(t, batchEvent(rs), map[string]any{"node_receipts": rs})
		}, false},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := build(t, c.add, opX); (err != nil) != c.buildFail {
				t.Errorf("BuildBundle of an operation it does not name: %v", err)
			}
			b, err := build(t, c.add, opA)
			if c.buildFail {
				if err == nil {
					t.Errorf("BuildBundle of opA read it")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Verify(roundTrip(t, b), k.Verifier); err == nil || !strings.Contains(err.Error(), "log index 25") {
				t.Errorf("Verify of opA's bundle: %v", err)
			}
		})
	}
}

// TestNodeReceiptsAttackOwnLogKey: on the receiving node's own log, a
// page receipt and a receipt of one version are alike the log's
// statement: each is shown with the log's key, whatever key it names,
// and --node-key must give the log's key for both.
func TestNodeReceiptsAttackOwnLogKey(t *testing.T) {
	alpha, bravo, other := mustKey(t, "alpha-node"), mustKey(t, "bravo-node"), mustKey(t, "bravo-node")
	var leaf3 string
	f := receiverPage(t, alpha, func(leaf func(int64) string) *NodeReceipts {
		leaf3 = leaf(3)
		return batchOf(other, ReceivedVersion{Operation: opA, Version: 1, Entry: 3, LeafHash: leaf(3)})
	})
	r := receiptOf(other, 3, leaf3, 1)
	f.add(t, &dc.Event{Type: dc.EventOperationReceived, Time: at(31 * time.Minute), Actor: dc.Actor{Role: "node"},
		Subject: &dc.Subject{Kind: "operation", ID: opA}, Audience: []string{"alpha", "bravo"}}, map[string]any{"node_receipt": r})
	tl, err := Verify(bundleFor(t, f, bravo, admin), bravo.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for _, it := range tl.Items {
		if isNodeReceipt(it.Type) {
			n++
			if it.Key != bravo.Verifier || !strings.Contains(it.Text, "(key "+bravo.Verifier+")") {
				t.Errorf("entry %d (%s): key %s, %s", it.Index, it.Type, it.Key, it.Text)
			}
		}
	}
	if n != 2 {
		t.Fatalf("%d node receipts shown, want 2", n)
	}
	if err := tl.CheckNodeKeys([]string{other.Verifier}); err == nil {
		t.Errorf("the receipts passed with the key they name, which signed nothing of this bundle")
	}
	if err := tl.CheckNodeKeys([]string{bravo.Verifier}); err != nil {
		t.Errorf("CheckNodeKeys with the log's key: %v", err)
	}
}

// TestNodeReceiptsAttackOwnLogWithheld: on the receiving node's own log,
// while an entry of the bundle before a page receipt is withheld from the
// requester, a version whose copy the bundle does not show is not
// checked, and the timeline says so rather than naming a copy; the
// requester who sees every entry gets the bundle refused.
func TestNodeReceiptsAttackOwnLogWithheld(t *testing.T) {
	alpha, bravo := mustKey(t, "alpha-node"), mustKey(t, "bravo-node")
	leaf := func(i int64) string { return leafB64([]byte{byte(i)}) }
	g := newFakeTx()
	g.add(t, &dc.Event{Type: dc.EventOperationDeclared, Time: at(3 * time.Minute), Actor: alphaOp, Subject: &dc.Subject{Kind: "operation", ID: opA}},
		map[string]any{"operation": operation(opA, "alpha", 1, dc.StatePlanned, at(2*time.Hour)),
			"replicated": replicatedFrom{Node: alpha.Verifier, Index: 3, LeafHash: leaf(3)}})
	// An escalation about opA to bravo's heads, which alpha may not see.
	g.put(t, escalationEvent(dc.EventEscalationRaised, at(30*time.Minute), dc.Subject{Kind: "operation", ID: opA}, "bravo", 1, "not acknowledged"))
	rs := batchOf(bravo, ReceivedVersion{Operation: opA, Version: 1, Entry: 3, LeafHash: leaf(3)},
		ReceivedVersion{Operation: opA, Version: 2, Entry: 99, LeafHash: leaf(99)}) // no copy of entry 99
	g.add(t, batchEvent(rs), map[string]any{"node_receipts": rs})
	b, err := BuildBundle(ctx, g, origin, int64(len(g.events)), []*dc.SigningKey{bravo}, opA, viewer(alphaLO))
	if err != nil {
		t.Fatal(err)
	}
	tl, err := Verify(roundTrip(t, b), bravo.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	lines := receiptLines(tl, 2)
	if len(lines) != 2 || !strings.HasSuffix(lines[0], "copied here as entry 0") ||
		!strings.HasSuffix(lines[1], "the entry received is entry 99 of the author's log, whose copy is withheld from the requester: not checked") {
		t.Errorf("the page receipt as alpha's liaison sees it:\n%s", strings.Join(lines, "\n"))
	}
	if _, err := Verify(bundleFor(t, g, bravo, admin), bravo.Verifier); err == nil || !strings.Contains(err.Error(), "names entry 99 of the author's log") {
		t.Errorf("the admin's bundle: %v", err)
	}
}

// leafB64 is the leaf hash of data, as a copy or a receipt names it.
func leafB64(data []byte) string {
	h := tlog.RecordHash(data)
	return base64.StdEncoding.EncodeToString(h[:])
}
