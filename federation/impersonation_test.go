package federation_test

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/federation"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/record"
	"github.com/google/uuid"
	"golang.org/x/mod/sumdb/tlog"
)

// TestPeerDescriptorClaimingOwnParty: a descriptor that claims a party
// this node hosts is refused, so a peer cannot take over this node's
// party (author its operations, waive its conflicts, silence its users).
func TestPeerDescriptorClaimingOwnParty(t *testing.T) {
	bravo := newNode(t, t.TempDir(), "bravo")
	key, err := record.NewKey("hotel-k1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, parties := range [][]string{{"bravo"}, {"hotel", "bravo"}} {
		d := &federation.Descriptor{Parties: parties, URL: "http://hotel.invalid", Key: key.Verifier}
		if _, err := federation.AddPeer(t.Context(), bravo.mech, d); err == nil || !strings.Contains(err.Error(), "bravo") {
			t.Fatalf("a descriptor claiming %v was accepted (err %v)", parties, err)
		}
	}
	if _, err := bravo.node.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, remote := bravo.mech.Federation().RemoteParty("bravo"); remote {
		t.Fatalf("bravo's own party is now hosted by the peer")
	}
	if peers, _ := federation.Peers(t.Context(), bravo.store); len(peers) != 0 {
		t.Fatalf("the refused descriptor left peers %+v", peers)
	}
	// A descriptor of its own parties only is still accepted.
	if _, err := federation.AddPeer(t.Context(), bravo.mech, &federation.Descriptor{Parties: []string{"hotel"}, URL: "http://hotel.invalid", Key: key.Verifier}); err != nil {
		t.Fatal(err)
	}
}

// receiptEvent is a hostile node's log entry holding its receipt r, with
// a signature of its own by signer if signed.
func receiptEvent(t *testing.T, r *record.NodeReceipt, signer string, signed bool, audience ...string) *dc.Event {
	t.Helper()
	if signed {
		if err := record.SignNodeReceipt(r, signer); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := jsonMarshal(mechanism.NodeReceiptEventData{Receipt: r})
	return &dc.Event{Type: dc.EventOperationReceived, Time: time.Now().UTC().Truncate(time.Microsecond), Actor: dc.Actor{Role: "node"},
		Subject: &dc.Subject{Kind: "operation", ID: r.Operation}, Audience: audience, Data: b}
}

// hostileReceiver starts a node of bravo's peered with a hostile node
// hosting hotel, and declares one of bravo's operations.
func hostileReceiver(t *testing.T) (bravo *testNode, hostile *hostilePeer, key *dc.SigningKey, op *dc.Operation) {
	t.Helper()
	return hostileReceiverOf(t, "hotel")
}

// hostileReceiverOf is hostileReceiver with a hostile node hosting
// parties.
func hostileReceiverOf(t *testing.T, parties ...string) (bravo *testNode, hostile *hostilePeer, key *dc.SigningKey, op *dc.Operation) {
	t.Helper()
	bravo = newNode(t, t.TempDir(), "bravo")
	hostile = newHostilePeer(t)
	key, err := record.NewKey("hotel-k1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	hostile.signWith(t, key)
	if _, err := federation.AddPeer(t.Context(), bravo.mech, &federation.Descriptor{Parties: parties, URL: hostile.hs.URL, Key: key.Verifier}); err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(5 * time.Hour).Truncate(time.Second)
	res, err := bravo.mech.Declare(t.Context(), bravo.actor(dc.RoleOperator), uuid.NewString(),
		mechanism.Declaration{Volumes: []dc.Volume4D{volume(20, 20, 1, 0, 500, start, time.Hour)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return bravo, hostile, key, res.Operation
}

// receiptOf is a node receipt by the hostile node of key (hosting
// hosts) of bravo's operation op, version 1, naming receivers and entry
// of bravo's log with that entry's true leaf hash.
func receiptOf(t *testing.T, bravo *testNode, key *dc.SigningKey, op *dc.Operation, entry int64, hosts, receivers []string) *record.NodeReceipt {
	t.Helper()
	pp, err := bravo.mech.Federation().PeerLog(t.Context(), hosts, entry, 1)
	if err != nil {
		t.Fatal(err)
	}
	entries := pp.Entries
	return &record.NodeReceipt{Operation: op.ID, Party: "bravo", Version: 1, Receiver: receivers,
		Key: key.Verifier, ReceivedAt: time.Now().UTC().Format(time.RFC3339Nano), Entry: entry,
		LeafHash: base64.StdEncoding.EncodeToString(entries[0].LeafHash[:])}
}

// noReceiptKept fails if bravo kept a peer's node receipt (a copy; its
// own receipts of the peer's operations are not kept, but made).
func noReceiptKept(t *testing.T, bravo *testNode) {
	t.Helper()
	evs, err := bravo.mech.Events(t.Context(), dc.Actor{Role: dc.RoleAdmin}, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Type == dc.EventOperationReceived && strings.Contains(string(e.Data), `"replicated"`) {
			t.Fatalf("bravo kept the receipt: %s", e.Data)
		}
	}
}

// TestForgedReceiver: a peer's node receipt that names as its receiver a
// party the peer does not host (claiming another node received it) is
// refused and alerted, and does not go into the author's log, where its
// evidence bundle would show it as that party's receipt; whether or not
// the receipt carries a signature of its own.
func TestForgedReceiver(t *testing.T) {
	for _, signed := range []bool{false, true} {
		t.Run(fmt.Sprintf("signed=%v", signed), func(t *testing.T) {
			bravo, hostile, key, op := hostileReceiver(t)
			if _, err := bravo.mech.Access().AddParty(t.Context(), "charlie", ""); err != nil {
				t.Fatal(err)
			}
			r := &record.NodeReceipt{Operation: op.ID, Party: "bravo", Version: 1, Receiver: []string{"charlie"},
				Key: key.Verifier, ReceivedAt: time.Now().UTC().Format(time.RFC3339Nano), Entry: 1, LeafHash: tlog.Hash{}.String()}
			var log hostileLog
			log.add(t, receiptEvent(t, r, key.Signer, signed, "bravo", "charlie"))
			hostile.set(func(from int64) *federation.LogPage { return log.page(t, from, 1, key.Signer) })
			waitAlert(t, bravo, "hotel", "forged")
			noReceiptKept(t, bravo)
		})
	}
}

// TestMalformedReceipt: a peer's node receipt without a signature of its
// own whose fields a bundle could not show (no receiving time), or whose
// entry is about another operation than the receipt, is refused and
// alerted, not kept.
func TestMalformedReceipt(t *testing.T) {
	for name, change := range map[string]func(r *record.NodeReceipt, e *dc.Event){
		"no receiving time":             func(r *record.NodeReceipt, e *dc.Event) { r.ReceivedAt = "" },
		"an entry of another operation": func(r *record.NodeReceipt, e *dc.Event) { e.Subject.ID = uuid.NewString() },
	} {
		t.Run(name, func(t *testing.T) {
			bravo, hostile, key, op := hostileReceiver(t)
			r := receiptOf(t, bravo, key, op, op.Rev-1, []string{"hotel"}, []string{"hotel"})
			e := receiptEvent(t, r, key.Signer, false, "bravo", "hotel")
			change(r, e)
			e.Data, _ = jsonMarshal(mechanism.NodeReceiptEventData{Receipt: r})
			var log hostileLog
			log.add(t, e)
			hostile.set(func(from int64) *federation.LogPage { return log.page(t, from, 1, key.Signer) })
			waitAlert(t, bravo, "hotel", "malformed")
			noReceiptKept(t, bravo)
		})
	}
}

// TestMessageIDOfAnotherParty: a peer's hotline message that reuses the
// ID of a message another party sent is refused and alerted, not
// silently taken for that message (which would hide that one of the two
// never arrived).
func TestMessageIDOfAnotherParty(t *testing.T) {
	bravo := newNode(t, t.TempDir(), "bravo")
	hostile := newHostilePeer(t)
	key, err := record.NewKey("hotel-k1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	hostile.signWith(t, key)
	if _, err := federation.AddPeer(t.Context(), bravo.mech, &federation.Descriptor{Parties: []string{"hotel"}, URL: hostile.hs.URL, Key: key.Verifier}); err != nil {
		t.Fatal(err)
	}
	own, err := bravo.mech.Hotline().SendMessage(t.Context(), bravo.actor(dc.RoleLiaison), mechanism.Outgoing{To: []string{"hotel"}, Text: "bravo's own"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	msg := &dc.Message{ID: own.ID, Kind: dc.KindMessage, From: dc.Actor{Party: "hotel", Role: dc.RoleLiaison}, To: []string{"bravo"},
		Text: "hotel's, under bravo's ID", Urgency: dc.UrgencyRoutine, SentAt: now}
	b, _ := jsonMarshal(mechanism.HotlineEventData{Message: msg})
	var log hostileLog
	log.add(t, &dc.Event{Type: dc.EventHotlineMessage, Time: now, Actor: msg.From,
		Subject: &dc.Subject{Kind: dc.SubjectMessage, ID: msg.ID}, Audience: []string{"hotel", "bravo"}, Data: b})
	hostile.set(func(from int64) *federation.LogPage { return log.page(t, from, 1, key.Signer) })
	waitAlert(t, bravo, "hotel", "rejected")
}

// TestReceiptOwnSignatureChecked: a peer's node receipt that carries a
// signature of its own is kept only if that signature is the peer's: one
// by another key is refused and alerted, though the peer's checkpoint
// covers the entry.
func TestReceiptOwnSignatureChecked(t *testing.T) {
	bravo, hostile, key, op := hostileReceiver(t)
	r := receiptOf(t, bravo, key, op, op.Rev-1, []string{"hotel"}, []string{"hotel"})
	other, _ := record.NewKey("hotel-k1", time.Now())
	var log hostileLog
	log.add(t, receiptEvent(t, r, other.Signer, true, "bravo", "hotel"))
	hostile.set(func(from int64) *federation.LogPage { return log.page(t, from, 1, key.Signer) })
	waitAlert(t, bravo, "hotel", "bad_signature")
	noReceiptKept(t, bravo)
}

// TestReceiptOfAnotherEntry: a peer's node receipt that names an entry
// of the author's log other than the version it claims to have received
// is refused and alerted: kept, it would look like proof of notice while
// binding the receiver to nothing; whether or not it carries a signature
// of its own.
func TestReceiptOfAnotherEntry(t *testing.T) {
	for _, signed := range []bool{false, true} {
		t.Run(fmt.Sprintf("signed=%v", signed), func(t *testing.T) {
			bravo, hostile, key, op := hostileReceiver(t)
			r := receiptOf(t, bravo, key, op, 0, []string{"hotel"}, []string{"hotel"}) // entry 0: not the declaration
			var log hostileLog
			log.add(t, receiptEvent(t, r, key.Signer, signed, "bravo", "hotel"))
			hostile.set(func(from int64) *federation.LogPage { return log.page(t, from, 1, key.Signer) })
			waitAlert(t, bravo, "hotel", "forged")
			noReceiptKept(t, bravo)
		})
	}
}

// TestReceiptOfAnotherPartysOperation: a peer's node receipt that claims
// to be of an operation of this node's party but names the entry of
// another party's operation (a copy of the peer's own, here) is refused
// and alerted, not kept as a receipt of this node's party.
func TestReceiptOfAnotherPartysOperation(t *testing.T) {
	bravo, hostile, key, _ := hostileReceiver(t)
	var log hostileLog
	own := hostileOperation(t, "hotel")
	log.add(t, own)
	hostile.set(func(from int64) *federation.LogPage { return log.page(t, from, 1, key.Signer) })
	var copied *dc.Event // bravo's copy of hotel's operation
	for deadline := time.Now().Add(10 * time.Second); copied == nil; time.Sleep(20 * time.Millisecond) {
		evs, err := bravo.mech.Events(t.Context(), dc.Actor{Role: dc.RoleAdmin}, 0, 10000)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.Type == dc.EventOperationDeclared && e.Subject.ID == own.Subject.ID {
				copied = e
			}
		}
		if copied == nil && time.Now().After(deadline) {
			t.Fatal("bravo never applied hotel's operation")
		}
	}
	pp, err := bravo.mech.Federation().PeerLog(t.Context(), []string{"hotel"}, copied.Seq-1, 1)
	if err != nil {
		t.Fatal(err)
	}
	entries := pp.Entries
	r := &record.NodeReceipt{Operation: own.Subject.ID, Party: "bravo", Version: 1, Receiver: []string{"hotel"},
		Key: key.Verifier, ReceivedAt: time.Now().UTC().Format(time.RFC3339Nano), Entry: copied.Seq - 1,
		LeafHash: base64.StdEncoding.EncodeToString(entries[0].LeafHash[:])}
	log.add(t, receiptEvent(t, r, key.Signer, false, "bravo", "hotel"))
	hostile.set(func(from int64) *federation.LogPage { return log.page(t, from, 2, key.Signer) })
	waitAlert(t, bravo, "hotel", "forged")
	noReceiptKept(t, bravo)
}

// TestReceiptsOfAPage: of a page of a peer's node receipts, checked
// together against this node's log, those naming the versions they claim
// are kept, and one naming another entry among them is refused and
// alerted. The evidence of each operation proves the peer's receipt.
func TestReceiptsOfAPage(t *testing.T) {
	bravo := newNode(t, t.TempDir(), "bravo")
	hostile := newHostilePeer(t)
	key, err := record.NewKey("hotel-k1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	hostile.signWith(t, key)
	if _, err := federation.AddPeer(t.Context(), bravo.mech, &federation.Descriptor{Parties: []string{"hotel"}, URL: hostile.hs.URL, Key: key.Verifier}); err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(5 * time.Hour).Truncate(time.Second)
	var ops []*dc.Operation
	for i := range 3 {
		res, err := bravo.mech.Declare(t.Context(), bravo.actor(dc.RoleOperator), uuid.NewString(),
			mechanism.Declaration{Volumes: []dc.Volume4D{volume(20+float64(i), 20, 1, 0, 500, start, time.Hour)}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ops = append(ops, res.Operation)
	}
	pp, err := bravo.mech.Federation().PeerLog(t.Context(), []string{"hotel"}, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	entries := pp.Entries
	entryOf := func(op *dc.Operation) int64 { return op.Rev - 1 } // its declaration, the first event of the change
	var log hostileLog
	for i, op := range ops {
		at := entryOf(op)
		if i == 1 {
			at = entryOf(ops[0]) // the second names the first one's entry
		}
		r := &record.NodeReceipt{Operation: op.ID, Party: "bravo", Version: 1, Receiver: []string{"hotel"},
			Key: key.Verifier, ReceivedAt: time.Now().UTC().Format(time.RFC3339Nano), Entry: at,
			LeafHash: base64.StdEncoding.EncodeToString(entries[at].LeafHash[:])}
		log.add(t, receiptEvent(t, r, key.Signer, i == 2, "bravo", "hotel")) // the last one signed on its own too
	}
	hostile.set(func(from int64) *federation.LogPage { return log.page(t, from, 3, key.Signer) })
	waitAlert(t, bravo, "hotel", "forged")
	deadline := time.Now().Add(10 * time.Second)
	for {
		evs, err := bravo.mech.Events(t.Context(), dc.Actor{Role: dc.RoleAdmin}, 0, 10000)
		if err != nil {
			t.Fatal(err)
		}
		kept := map[string]bool{}
		for _, e := range evs {
			if e.Type == dc.EventOperationReceived {
				kept[e.Subject.ID] = true
			}
		}
		if kept[ops[0].ID] && kept[ops[2].ID] {
			if kept[ops[1].ID] {
				t.Fatalf("bravo kept the receipt naming another entry")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bravo kept receipts of %v, want the first and the third", kept)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The evidence of each kept receipt verifies offline with hotel's
	// key: the first by hotel's checkpoint over its entry, the third by
	// its own signature.
	for i, op := range []*dc.Operation{ops[0], ops[2]} {
		b, err := bravo.mech.Record().Evidence(t.Context(), bravo.actor(dc.RoleLiaison), op.ID)
		if err != nil {
			t.Fatal(err)
		}
		tl, err := record.Verify(b, bravo.descriptor(t).Key)
		if err != nil {
			t.Fatalf("the evidence of %s: %v", op.ID, err)
		}
		if err := tl.CheckNodeKeys([]string{key.Verifier}); err != nil {
			t.Errorf("the evidence of %s: %v", op.ID, err)
		}
		if want := 1 - i; len(b.NodeReceipts) != want {
			t.Errorf("the evidence of %s carries %d checkpoints of hotel's log, want %d", op.ID, len(b.NodeReceipts), want)
		}
	}
}
