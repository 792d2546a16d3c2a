package mechanism_test

import (
	"context"
	"errors"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/google/uuid"
)

// TestPeerLogEchoes: for the node of a peer hosting charlie, the copy of
// that peer's receipt is an echo (remembered as a copy or not), a
// declaration of the node's own party is not, even at the index of a
// copy whose transaction rolled back, and an empty range is all echoes.
func TestPeerLogEchoes(t *testing.T) {
	ctx := context.Background()
	m, clk := mustOpen(t)
	m.Federation().SetPeers([]*dc.Peer{{Key: "k1", Parties: []string{"charlie"}}})
	start := clk.Now().Add(3 * time.Hour)
	alpha := dc.Actor{Party: "alpha", Role: dc.RoleOperator}
	echoes := func(from int64, limit int) (int64, bool) {
		t.Helper()
		size, echoes, err := m.Federation().PeerLogEchoes(ctx, []string{"charlie"}, from, limit)
		if err != nil {
			t.Fatal(err)
		}
		return size, echoes
	}
	res, err := m.Declare(ctx, alpha, uuid.NewString(), circleDecl(33, 35, start, start.Add(time.Hour)), nil)
	if err != nil {
		t.Fatal(err)
	}
	declared := res.Operation.Rev - 1
	size, all := echoes(declared, 10)
	if size != declared+1 || all {
		t.Fatalf("from alpha's declaration, entry %d: size %d, all echoes %v", declared, size, all)
	}
	if size, all := echoes(size, 10); size != declared+1 || !all {
		t.Fatalf("from the end of the log: size %d, all echoes %v", size, all)
	}

	if err := m.Federation().KeepNodeReceipt(ctx, charlieReceipt(res.Operation, clk.Now(), 7).Origin, charlieReceipt(res.Operation, clk.Now(), 7).Receipt, nil); err != nil {
		t.Fatal(err)
	}
	for _, how := range []string{"remembered", "forgotten"} {
		if how == "forgotten" {
			m.ForgetCopies()
		}
		if after, all := echoes(size, 10); after != size+1 || !all {
			t.Fatalf("%s: the copy of the peer's receipt, entry %d: size %d, all echoes %v", how, size, after, all)
		}
		if _, all := echoes(declared, 10); all {
			t.Fatalf("%s: alpha's declaration and the copy are all echoes", how)
		}
	}

	// A copy appended at the next index rolls back; the declaration that
	// takes the index is no echo.
	failed := charlieReceipt(res.Operation, clk.Now(), 8)
	failed.Mark = func(dc.Tx) error { return errors.New("mark failed") }
	at := size + 1
	if err := m.Federation().KeepNodeReceipts(ctx, []mechanism.KeptReceipt{charlieReceipt(res.Operation, clk.Now(), 9), failed}); err == nil {
		t.Fatal("KeepNodeReceipts whose mark failed kept them")
	}
	if !m.RemembersCopy(at) {
		t.Fatalf("the node does not remember the rolled-back copy at entry %d: the test proves nothing", at)
	}
	own, err := m.Declare(ctx, alpha, uuid.NewString(), circleDecl(40, 40, start, start.Add(time.Hour)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if own.Operation.Rev-1 != at {
		t.Fatalf("the declaration is entry %d of the log, not %d, where the rolled-back copy was", own.Operation.Rev-1, at)
	}
	if _, all := echoes(at, 1); all {
		t.Fatalf("alpha's declaration at entry %d, where a copy rolled back, is an echo", at)
	}
}
