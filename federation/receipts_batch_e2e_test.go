package federation_test

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"testing"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/record"
	"github.com/google/uuid"
)

// nodeReceipts returns the receipts of several versions in n's log: its
// own, and the copies of its peers' it kept. It fails the test on any
// receipt of a single version.
func nodeReceipts(t *testing.T, n *testNode) (own, kept []*record.NodeReceipts) {
	t.Helper()
	evs, err := n.mech.Events(t.Context(), dc.Actor{Role: dc.RoleAdmin}, 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		switch e.Type {
		case dc.EventOperationReceived:
			t.Errorf("%s's entry %d is a receipt of a single version: %s", n.party, e.Seq-1, e.Data)
		case dc.EventOperationsReceived:
			var b struct {
				R          *record.NodeReceipts `json:"node_receipts"`
				Replicated any                  `json:"replicated"`
			}
			if err := json.Unmarshal(e.Data, &b); err != nil || b.R == nil {
				t.Fatalf("%s's entry %d: %v: %s", n.party, e.Seq-1, err, e.Data)
			}
			if b.Replicated != nil {
				kept = append(kept, b.R)
			} else {
				own = append(own, b.R)
			}
		}
	}
	return own, kept
}

// TestReceiptPerPage: bravo's node answers the versions of alpha's
// operations it applies with one receipt of each page of alpha's log it
// applies, not one a version: a page of 30 declarations alpha made while
// bravo's node was down is one receipt; every version alpha made is named by
// exactly one of bravo's receipts; and alpha keeps one copy of each
// receipt, no more.
func TestReceiptPerPage(t *testing.T) {
	dir := t.TempDir()
	alpha, bravo := newNode(t, dir, "alpha"), newNode(t, dir, "bravo")
	peerAll(t, alpha, bravo)
	rnd := rand.New(rand.NewPCG(5, 6))
	declared := map[string]bool{}
	declare := func(n int) {
		for i := range n {
			id := uuid.NewString()
			if _, err := alpha.mech.Declare(t.Context(), alpha.actor(dc.RoleOperator), id, randomDeclaration(rnd, "alpha", i), nil); err != nil {
				t.Fatal(err)
			}
			declared[id] = true
		}
	}
	declare(3) // followed live
	waitConverged(t, alpha, bravo)
	own, _ := nodeReceipts(t, bravo)
	before := len(own)

	bravo.shutdown(t) // back, bravo's node pulls alpha's 30 in one page
	declare(30)
	bravo.start(t)
	waitConverged(t, alpha, bravo)

	own, _ = nodeReceipts(t, bravo)
	if len(own) != before+1 {
		t.Errorf("bravo gave %d receipts of the page of 30 declarations, want 1: %s", len(own)-before, mustJSON(t, own[before:]))
	} else if n := len(own[before].Entries); n != 30 {
		t.Errorf("bravo's receipt of the page names %d versions, want 30", n)
	}
	named := map[string]int{}
	for _, rs := range own {
		if rs.Party != "alpha" || !slices.Equal(rs.Receiver, []string{"bravo"}) || rs.Key != bravo.descriptor(t).Key {
			t.Errorf("bravo's receipt of %s's versions, for %v, by %s", rs.Party, rs.Receiver, rs.Key)
		}
		for _, v := range rs.Entries {
			named[v.Operation]++
		}
	}
	for op := range declared {
		if named[op] != 1 {
			t.Errorf("bravo's receipts name version 1 of %s %d times, want once", op, named[op])
		}
	}
	if len(named) != len(declared) {
		t.Errorf("bravo's receipts name %d operations, alpha declared %d", len(named), len(declared))
	}

	_, kept := nodeReceipts(t, alpha)
	if len(kept) != len(own) {
		t.Fatalf("alpha kept %d copies of bravo's %d receipts", len(kept), len(own))
	}
	for i := range kept {
		if a, b := mustJSON(t, kept[i]), mustJSON(t, own[i]); string(a) != string(b) {
			t.Errorf("alpha's copy %d of bravo's receipt is %s, bravo's is %s", i, a, b)
		}
	}
}
