package federation_test

import (
	"encoding/base64"
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

// TestForgedReceiver: a peer's node receipt that names as its receiver a
// party the peer does not host (claiming another node received it) is
// refused and alerted, and does not go into the author's log, where its
// evidence bundle would show it as that party's receipt.
func TestForgedReceiver(t *testing.T) {
	bravo := newNode(t, t.TempDir(), "bravo")
	if _, err := bravo.mech.AddParty(t.Context(), "charlie", ""); err != nil {
		t.Fatal(err)
	}
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
	op, err := bravo.mech.Declare(t.Context(), bravo.actor(dc.RoleOperator), uuid.NewString(),
		mechanism.Declaration{Volumes: []dc.Volume4D{volume(20, 20, 1, 0, 500, start, time.Hour)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &record.NodeReceipt{Operation: op.Operation.ID, Party: "bravo", Version: 1, Receiver: []string{"charlie"},
		Key: key.Verifier, ReceivedAt: time.Now().UTC().Format(time.RFC3339Nano), Entry: 1, LeafHash: tlog.Hash{}.String()}
	if err := record.SignNodeReceipt(r, key.Signer); err != nil {
		t.Fatal(err)
	}
	b, _ := jsonMarshal(mechanism.NodeReceiptEventData{Receipt: r})
	var log hostileLog
	log.add(t, &dc.Event{Type: dc.EventOperationReceived, Time: time.Now().UTC().Truncate(time.Microsecond), Actor: dc.Actor{Role: "node"},
		Subject: &dc.Subject{Kind: "operation", ID: op.Operation.ID}, Audience: []string{"bravo", "charlie"}, Data: b})
	hostile.set(func(from int64) *federation.LogPage { return log.page(t, from, 1, key.Signer) })
	waitAlert(t, bravo, "hotel", "forged")
	evs, err := bravo.mech.Events(t.Context(), dc.Actor{Role: dc.RoleAdmin}, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Type == dc.EventOperationReceived {
			t.Fatalf("bravo kept the forged receipt: %s", e.Data)
		}
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
	own, err := bravo.mech.SendMessage(t.Context(), bravo.actor(dc.RoleLiaison), mechanism.Outgoing{To: []string{"hotel"}, Text: "bravo's own"})
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

// TestReceiptOfAnotherEntry: a peer's node receipt that names an entry
// of the author's log other than the version it claims to have received
// is refused and alerted: kept, it would look like proof of notice while
// binding the receiver to nothing.
func TestReceiptOfAnotherEntry(t *testing.T) {
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
	op, err := bravo.mech.Declare(t.Context(), bravo.actor(dc.RoleOperator), uuid.NewString(),
		mechanism.Declaration{Volumes: []dc.Volume4D{volume(20, 20, 1, 0, 500, start, time.Hour)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, entries, _, err := bravo.mech.Federation().PeerLog(t.Context(), []string{"hotel"}, 0, 1) // entry 0: not the declaration
	if err != nil {
		t.Fatal(err)
	}
	r := &record.NodeReceipt{Operation: op.Operation.ID, Party: "bravo", Version: 1, Receiver: []string{"hotel"},
		Key: key.Verifier, ReceivedAt: time.Now().UTC().Format(time.RFC3339Nano), Entry: 0,
		LeafHash: base64.StdEncoding.EncodeToString(entries[0].LeafHash[:])}
	if err := record.SignNodeReceipt(r, key.Signer); err != nil {
		t.Fatal(err)
	}
	b, _ := jsonMarshal(mechanism.NodeReceiptEventData{Receipt: r})
	var log hostileLog
	log.add(t, &dc.Event{Type: dc.EventOperationReceived, Time: time.Now().UTC().Truncate(time.Microsecond), Actor: dc.Actor{Role: "node"},
		Subject: &dc.Subject{Kind: "operation", ID: op.Operation.ID}, Audience: []string{"bravo", "hotel"}, Data: b})
	hostile.set(func(from int64) *federation.LogPage { return log.page(t, from, 1, key.Signer) })
	waitAlert(t, bravo, "hotel", "forged")
	evs, err := bravo.mech.Events(t.Context(), dc.Actor{Role: dc.RoleAdmin}, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Type == dc.EventOperationReceived {
			t.Fatalf("bravo kept the receipt of another entry: %s", e.Data)
		}
	}
}

// TestReceiptsOfAPage: of a page of a peer's node receipts, checked
// together against this node's log, those naming the versions they claim
// are kept, and one naming another entry among them is refused and
// alerted.
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
	_, entries, _, err := bravo.mech.Federation().PeerLog(t.Context(), []string{"hotel"}, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
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
		if err := record.SignNodeReceipt(r, key.Signer); err != nil {
			t.Fatal(err)
		}
		b, _ := jsonMarshal(mechanism.NodeReceiptEventData{Receipt: r})
		log.add(t, &dc.Event{Type: dc.EventOperationReceived, Time: time.Now().UTC().Truncate(time.Microsecond), Actor: dc.Actor{Role: "node"},
			Subject: &dc.Subject{Kind: "operation", ID: op.ID}, Audience: []string{"bravo", "hotel"}, Data: b})
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
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("bravo kept receipts of %v, want the first and the third", kept)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
