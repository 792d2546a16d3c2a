package federation_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/federation"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/record"
)

// servedEvidence waits until the evidence bundle alpha's node serves for
// op (GET /v1/evidence/operations/{id}) proves at least n node receipts
// and carries a peer's cosignature, and returns it.
func servedEvidence(t *testing.T, alpha *testNode, op string, n int) *record.Bundle {
	t.Helper()
	cl := alpha.client(alpha.token(t, dc.RoleLiaison, alpha.party))
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var b record.Bundle
		if err := cl.Do(t.Context(), "GET", "/v1/evidence/operations/"+op, nil, &b); err != nil {
			t.Fatal(err)
		}
		proven := 0
		for _, p := range b.NodeReceipts {
			proven += len(p.Entries)
		}
		if proven >= n && b.Witnessed != nil {
			return &b
		}
		if time.Now().After(deadline) {
			t.Fatalf("alpha's evidence of %s never proved %d node receipts with a cosignature (it proves %d; witnessed: %v)", op, n, proven, b.Witnessed != nil)
		}
	}
}

// declareAt declares (or, with a version, replaces) the node's operation
// op, up to ceiling metres.
func declareAt(t *testing.T, n *testNode, op string, ceiling float64, version *int) int {
	t.Helper()
	d := mechanism.Declaration{Volumes: []dc.Volume4D{volume(10, 10, 2, 0, ceiling, time.Now().Add(3*time.Hour), time.Hour)}}
	r, err := n.mech.Declare(t.Context(), n.actor(dc.RoleOperator), op, d, version)
	if err != nil {
		t.Fatal(err)
	}
	return r.Operation.Version
}

// verifyServed verifies alpha's bundle offline as `deconflict verify`
// does, with the peer nodes' descriptors given (--node-key, each
// descriptor of a node as it was when the node gave its receipts), and
// returns the timeline's text.
func verifyServed(t *testing.T, alpha *testNode, b *record.Bundle, descriptors ...*federation.Descriptor) (string, error) {
	t.Helper()
	tl, err := record.Verify(b, alpha.descriptor(t).Key)
	if err != nil {
		return "", err
	}
	var keys []string
	nodes := map[string][][]string{}
	for _, d := range descriptors {
		keys, nodes[d.Key] = append(keys, d.Key), append(nodes[d.Key], d.Parties)
	}
	if err := tl.CheckNodeKeys(keys); err != nil {
		return "", err
	}
	if err := tl.CheckNodeParties(nodes); err != nil {
		return "", err
	}
	var sb strings.Builder
	err = tl.Write(&sb)
	return sb.String(), err
}

// TestReceiptsOutliveTheirNodesParties: bravo's node gives receipts of
// alpha's operation while it hosts bravo alone, then hosts charlie too:
// alpha removes the peer and adds its new descriptor. The old receipts
// name the parties the node hosted when it gave them, the new ones both,
// and bravo's node cosigns alpha's log as the node of both. Alpha's
// evidence of the operation still verifies, with each descriptor the
// node had, and shows every receipt in the names it was given; with the
// new descriptor alone the old receipt fails, since that descriptor does
// not say the node ever hosted bravo alone.
func TestReceiptsOutliveTheirNodesParties(t *testing.T) {
	dir := t.TempDir()
	alpha, bravo := newNode(t, dir, "alpha"), newNode(t, dir, "bravo")
	peerAll(t, alpha, bravo)
	op := uuid.NewString()
	v := declareAt(t, alpha, op, 1000, nil)
	before := bravo.descriptor(t)
	if _, err := verifyServed(t, alpha, servedEvidence(t, alpha, op, 1), before); err != nil {
		t.Fatalf("alpha's evidence before bravo's node changed its parties: %v", err)
	}

	if _, err := bravo.mech.Access().AddParty(t.Context(), "charlie", ""); err != nil {
		t.Fatal(err)
	}
	after := bravo.descriptor(t)
	if len(after.Parties) != 2 {
		t.Fatalf("bravo's node hosts %v, want bravo and charlie", after.Parties)
	}
	if _, err := federation.RemovePeer(t.Context(), alpha.store, "bravo"); err != nil {
		t.Fatal(err)
	}
	if _, err := federation.AddPeer(t.Context(), alpha.mech, after); err != nil {
		t.Fatal(err)
	}
	declareAt(t, alpha, op, 1200, &v)
	b := servedEvidence(t, alpha, op, 2)

	s, err := verifyServed(t, alpha, b, before, after)
	if err != nil {
		t.Fatalf("alpha's evidence after bravo's node came to host charlie too: %v", err)
	}
	for _, want := range []string{"received by bravo's node at ", "received by bravo, charlie's node at ", "cosigned by bravo, charlie's node at "} {
		if !strings.Contains(s, want) {
			t.Errorf("the timeline does not say %q:\n%s", want, s)
		}
	}
	if _, err := verifyServed(t, alpha, b, after); err == nil || !strings.Contains(err.Error(), "names the receiving node's parties bravo") {
		t.Errorf("with bravo's node's new descriptor alone, its receipt as the node of bravo alone: %v", err)
	}
}

// TestReceiptsOfANodeThatDroppedAParty: bravo's node hosts bravo and
// charlie and gives receipts in both names; then charlie moves to a node
// of its own, which alpha adds after removing bravo's node, and bravo's
// node is added back hosting bravo alone. Alpha's evidence still verifies
// with the descriptors the node had, and names the old receipts' parties
// as the node gave them.
func TestReceiptsOfANodeThatDroppedAParty(t *testing.T) {
	dir := t.TempDir()
	alpha, bravo := newNode(t, dir, "alpha"), newNode(t, dir, "bravo")
	if _, err := bravo.mech.Access().AddParty(t.Context(), "charlie", ""); err != nil {
		t.Fatal(err)
	}
	peerAll(t, alpha, bravo)
	op := uuid.NewString()
	declareAt(t, alpha, op, 1000, nil)
	before := bravo.descriptor(t)
	b := servedEvidence(t, alpha, op, 1)
	if _, err := verifyServed(t, alpha, b, before); err != nil {
		t.Fatalf("alpha's evidence before bravo's node dropped charlie: %v", err)
	}

	if _, err := federation.RemovePeer(t.Context(), alpha.store, "bravo"); err != nil {
		t.Fatal(err)
	}
	charlie := newNode(t, dir, "charlie")
	peerAll(t, alpha, charlie)
	after := *before
	after.Parties = []string{"bravo"}
	if _, err := federation.AddPeer(t.Context(), alpha.mech, &after); err != nil {
		t.Fatal(err)
	}
	if key, ok := alpha.mech.Federation().RemoteParty("charlie"); !ok || key != charlie.descriptor(t).Key {
		t.Fatalf("charlie is hosted by %q (%v) on alpha's node, want charlie's own node", key, ok)
	}
	b = servedEvidence(t, alpha, op, 1)
	s, err := verifyServed(t, alpha, b, before, &after, charlie.descriptor(t))
	if err != nil {
		t.Fatalf("alpha's evidence after bravo's node dropped charlie: %v", err)
	}
	if !strings.Contains(s, "received by bravo, charlie's node at ") {
		t.Errorf("the timeline does not show the receipt as given:\n%s", s)
	}
}
