package mechanism_test

import (
	"context"
	"errors"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/pgtest"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/postgres"
	"github.com/google/uuid"
)

// TestPeerLogOfReplicasOnPostgres: two server processes share one
// PostgreSQL store. The copy of a peer's receipt one of them appended in
// a transaction that rolled back does not make it withhold the
// declaration the other then logged at that index; a copy either of
// them committed is withheld by both, the one that appended it and the
// one that never knew it did. Needs DECONFLICT_TEST_POSTGRES.
func TestPeerLogOfReplicasOnPostgres(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Database(t)
	open := func() dc.Store {
		st, err := postgres.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	a, clk := openOn(t, open(), "alpha", "charlie")
	b, _ := openOn(t, open())
	peers := []*dc.Peer{{Key: "k1", Parties: []string{"charlie"}}}
	a.Federation().SetPeers(peers)
	b.Federation().SetPeers(peers)
	start := clk.Now().Add(3 * time.Hour)
	alpha := dc.Actor{Party: "alpha", Role: dc.RoleOperator}
	res, err := a.Declare(ctx, alpha, uuid.NewString(), circleDecl(33, 35, start, start.Add(time.Hour)), nil)
	if err != nil {
		t.Fatal(err)
	}
	receipt := func(entry int64) mechanism.KeptReceipt { return charlieReceipt(res.Operation, clk.Now(), entry) }
	pp, err := a.Federation().PeerLog(ctx, []string{"charlie"}, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	size := pp.Size

	failed := receipt(8)
	failed.Mark = func(dc.Tx) error { return errors.New("mark failed") }
	if err := a.Federation().KeepNodeReceipts(ctx, []mechanism.KeptReceipt{receipt(7), failed}); err == nil {
		t.Fatal("KeepNodeReceipts whose mark failed kept them")
	}
	if !a.RemembersCopy(size) {
		t.Fatalf("a does not remember the rolled-back copy at entry %d: the test proves nothing", size)
	}
	own, err := b.Declare(ctx, alpha, uuid.NewString(), circleDecl(40, 40, start, start.Add(time.Hour)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if own.Operation.Rev-1 != size {
		t.Fatalf("b's declaration is entry %d, not %d, where a's rolled-back copy was", own.Operation.Rev-1, size)
	}
	for name, m := range map[string]*mechanism.Mechanism{"a": a, "b": b} {
		if e := peerLogEntry(t, m, size); e.Data == nil {
			t.Errorf("%s withholds entry %d, b's declaration of alpha's, as a copy", name, size)
		}
	}

	// A copy b committed is withheld by a, which never knew of it, and by b.
	if err := b.Federation().KeepNodeReceipt(ctx, receipt(9).Origin, receipt(9).Receipt, nil); err != nil {
		t.Fatal(err)
	}
	pp, err = a.Federation().PeerLog(ctx, []string{"charlie"}, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	after := pp.Size
	if a.RemembersCopy(after-1) || !b.RemembersCopy(after-1) {
		t.Fatalf("entry %d: a remembers it %v, b %v; want only b", after-1, a.RemembersCopy(after-1), b.RemembersCopy(after-1))
	}
	for name, m := range map[string]*mechanism.Mechanism{"a": a, "b": b} {
		if e := peerLogEntry(t, m, after-1); e.Data != nil {
			t.Errorf("%s sends the copy of the peer's receipt, entry %d, whole: %s", name, after-1, e.Data)
		}
	}
}
