package federation_test

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/federation"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/record"
	"github.com/google/uuid"
)

// batchReceiptEvent is a hostile node's log entry holding its receipt rs
// of several versions, as a node writes one.
func batchReceiptEvent(t *testing.T, rs *record.NodeReceipts, audience ...string) *dc.Event {
	t.Helper()
	b, err := jsonMarshal(mechanism.NodeReceiptsEventData{Receipts: rs})
	if err != nil {
		t.Fatal(err)
	}
	return &dc.Event{Type: dc.EventOperationsReceived, Time: time.Now().UTC().Truncate(time.Microsecond), Actor: dc.Actor{Role: "node"},
		Audience: audience, Data: b}
}

// batchReceiver starts a node of bravo's peered with a hostile node
// hosting hotel, declares two of bravo's operations, and returns the
// hostile node's true receipt of both, as hotel's node would give it.
func batchReceiver(t *testing.T) (bravo *testNode, hostile *hostilePeer, key *dc.SigningKey, rs *record.NodeReceipts) {
	t.Helper()
	bravo, hostile, key, op := hostileReceiver(t)
	start := time.Now().Add(5 * time.Hour).Truncate(time.Second)
	res, err := bravo.mech.Declare(t.Context(), bravo.actor(dc.RoleOperator), uuid.NewString(),
		mechanism.Declaration{Volumes: []dc.Volume4D{volume(30, 30, 1, 0, 500, start, time.Hour)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rs = &record.NodeReceipts{Party: "bravo", Receiver: []string{"hotel"}, Key: key.Verifier, ReceivedAt: time.Now().UTC().Format(time.RFC3339Nano)}
	for _, o := range []*dc.Operation{op, res.Operation} {
		rs.Entries = append(rs.Entries, record.ReceivedVersion{Operation: o.ID, Version: 1, Entry: o.Rev - 1, LeafHash: leafOf(t, bravo, o.Rev-1)})
	}
	return bravo, hostile, key, rs
}

// leafOf is the leaf hash (base64) of entry index of n's log.
func leafOf(t *testing.T, n *testNode, index int64) string {
	t.Helper()
	pp, err := n.mech.Federation().PeerLog(t.Context(), []string{"hotel"}, index, 1)
	if err != nil {
		t.Fatal(err)
	}
	entries := pp.Entries
	return base64.StdEncoding.EncodeToString(entries[0].LeafHash[:])
}

// keptBatches returns the copies of peers' receipts of several versions
// n kept in its log.
func keptBatches(t *testing.T, n *testNode) []*dc.Event {
	t.Helper()
	evs, err := n.mech.Events(t.Context(), dc.Actor{Role: dc.RoleAdmin}, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var out []*dc.Event
	for _, e := range evs {
		if e.Type == dc.EventOperationsReceived && strings.Contains(string(e.Data), `"replicated"`) {
			out = append(out, e)
		}
	}
	return out
}

// TestBatchReceiptKept: a peer's receipt of several versions of this
// node's operations, beside one of a single version as older nodes give
// them, is kept as one copy of the peer's whole entry (same type, no
// subject, the author party and the peer's parties as its audience),
// which the node serves its peers as a leaf hash only, as every copy.
func TestBatchReceiptKept(t *testing.T) {
	bravo, hostile, key, rs := batchReceiver(t)
	first := &record.NodeReceipt{Operation: rs.Entries[0].Operation, Party: "bravo", Version: 1, Receiver: []string{"hotel"},
		Key: key.Verifier, ReceivedAt: rs.ReceivedAt, Entry: rs.Entries[0].Entry, LeafHash: rs.Entries[0].LeafHash}
	var log hostileLog
	log.add(t, receiptEvent(t, first, key.Signer, false, "bravo", "hotel"))
	log.add(t, batchReceiptEvent(t, rs, "bravo", "hotel"))
	hostile.set(func(from int64) *federation.LogPage { return log.page(t, from, 2, key.Signer) })
	var kept []*dc.Event
	for deadline := time.Now().Add(15 * time.Second); len(kept) == 0; time.Sleep(20 * time.Millisecond) {
		if kept = keptBatches(t, bravo); len(kept) == 0 && time.Now().After(deadline) {
			t.Fatal("bravo never kept the peer's receipt of both versions")
		}
	}
	keptReceipt(t, bravo, first.Operation) // the receipt of one version, kept too
	time.Sleep(200 * time.Millisecond)     // a second copy would be kept by now
	if kept = keptBatches(t, bravo); len(kept) != 1 {
		t.Fatalf("bravo kept %d copies of the peer's receipt, want 1", len(kept))
	}
	e := kept[0]
	var body struct {
		mechanism.NodeReceiptsEventData
		Replicated *mechanism.PeerOrigin `json:"replicated"`
	}
	if err := json.Unmarshal(e.Data, &body); err != nil {
		t.Fatal(err)
	}
	if e.Subject != nil || e.Actor != (dc.Actor{Role: "node"}) || !slices.Equal(e.Audience, []string{"bravo", "hotel"}) {
		t.Errorf("the copy: subject %v, actor %v, audience %v", e.Subject, e.Actor, e.Audience)
	}
	if body.Replicated == nil || body.Replicated.Node != key.Verifier || body.Replicated.Index != 1 {
		t.Errorf("the copy's origin: %+v", body.Replicated)
	}
	if got, _ := json.Marshal(body.Receipts); string(got) != string(mustJSON(t, rs)) {
		t.Errorf("the copy's receipt %s, want the peer's %s", got, mustJSON(t, rs))
	}
	pp, err := bravo.mech.Federation().PeerLog(t.Context(), []string{"hotel"}, e.Seq-1, 1)
	if err != nil {
		t.Fatal(err)
	}
	entries := pp.Entries
	if len(entries) != 1 || entries[0].Data != nil {
		t.Errorf("the copy is served to the peer whole: %+v", entries)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHostileBatchReceipt: a peer's receipt of several versions that
// lies in any of them is refused whole, alerted (in the node's log and
// in /v1/federation) and not kept: one naming another node's key, other
// receivers than exactly the peer's parties, a version whose leaf hash is
// not that of the author's entry, a version of an operation of another
// party, its versions out of the order of the author's entries, an
// entry about an operation, or no receiving time.
func TestHostileBatchReceipt(t *testing.T) {
	other, err := record.NewKey("india-k1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		kind   string
		change func(t *testing.T, bravo *testNode, rs *record.NodeReceipts, e *dc.Event)
	}{
		"another node's key": {"forged", func(t *testing.T, _ *testNode, rs *record.NodeReceipts, _ *dc.Event) { rs.Key = other.Verifier }},
		"a party it does not host": {"forged", func(t *testing.T, _ *testNode, rs *record.NodeReceipts, _ *dc.Event) {
			rs.Receiver = []string{"charlie"}
		}},
		"its party twice": {"forged", func(t *testing.T, _ *testNode, rs *record.NodeReceipts, _ *dc.Event) {
			rs.Receiver = []string{"hotel", "hotel"}
		}},
		"a leaf hash not of the author's entry": {"forged", func(t *testing.T, _ *testNode, rs *record.NodeReceipts, _ *dc.Event) {
			rs.Entries[1].LeafHash = rs.Entries[0].LeafHash
		}},
		"an operation of another party": {"forged", func(t *testing.T, bravo *testNode, rs *record.NodeReceipts, _ *dc.Event) {
			if _, err := bravo.mech.Access().AddParty(t.Context(), "charlie", ""); err != nil {
				t.Fatal(err)
			}
			start := time.Now().Add(5 * time.Hour).Truncate(time.Second)
			res, err := bravo.mech.Declare(t.Context(), dc.Actor{Party: "charlie", Role: dc.RoleOperator}, uuid.NewString(),
				mechanism.Declaration{Volumes: []dc.Volume4D{volume(40, 40, 1, 0, 500, start, time.Hour)}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			op := res.Operation
			rs.Entries = append(rs.Entries, record.ReceivedVersion{Operation: op.ID, Version: 1, Entry: op.Rev - 1, LeafHash: leafOf(t, bravo, op.Rev-1)})
		}},
		"out of order": {"malformed", func(t *testing.T, _ *testNode, rs *record.NodeReceipts, _ *dc.Event) {
			rs.Entries[0], rs.Entries[1] = rs.Entries[1], rs.Entries[0]
		}},
		"an entry about an operation": {"malformed", func(t *testing.T, _ *testNode, rs *record.NodeReceipts, e *dc.Event) {
			e.Subject = &dc.Subject{Kind: dc.SubjectOperation, ID: rs.Entries[0].Operation}
		}},
		"no receiving time": {"malformed", func(t *testing.T, _ *testNode, rs *record.NodeReceipts, _ *dc.Event) { rs.ReceivedAt = "" }},
	} {
		t.Run(name, func(t *testing.T) {
			bravo, hostile, key, rs := batchReceiver(t)
			e := batchReceiptEvent(t, rs, "bravo", "hotel")
			c.change(t, bravo, rs, e)
			e.Data = mustJSON(t, mechanism.NodeReceiptsEventData{Receipts: rs})
			var log hostileLog
			log.add(t, e)
			hostile.set(func(from int64) *federation.LogPage { return log.page(t, from, 1, key.Signer) })
			waitAlert(t, bravo, "hotel", c.kind)
			if kept := keptBatches(t, bravo); len(kept) != 0 {
				t.Fatalf("bravo kept the receipt: %s", kept[0].Data)
			}
			noReceiptKept(t, bravo)
		})
	}
}
