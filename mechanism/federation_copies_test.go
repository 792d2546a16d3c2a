package mechanism_test

import (
	"context"
	"errors"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/record"
	"github.com/google/uuid"
)

// TestPeerLogAfterARolledBackCopy: a copy of a peer's entry that a
// rolled-back transaction appended does not make the node withhold the
// entry that later takes its index — here a declaration of the node's
// own party, which the peer must receive whole — while a copy that
// committed is sent as its leaf hash only.
func TestPeerLogAfterARolledBackCopy(t *testing.T) {
	ctx := context.Background()
	m, clk := mustOpen(t)
	m.Federation().SetPeers([]*dc.Peer{{Key: "k1", Parties: []string{"charlie"}}})
	start := clk.Now().Add(3 * time.Hour)
	alpha := dc.Actor{Party: "alpha", Role: dc.RoleOperator}
	res, err := m.Declare(ctx, alpha, uuid.NewString(), circleDecl(33, 35, start, start.Add(time.Hour)), nil)
	if err != nil {
		t.Fatal(err)
	}
	receipt := func(entry int64) mechanism.KeptReceipt { return charlieReceipt(res.Operation, clk.Now(), entry) }
	pp, err := m.Federation().PeerLog(ctx, []string{"charlie"}, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	size := pp.Size

	// The first receipt's copy is appended at index size; the second
	// receipt's mark fails, and the transaction rolls back.
	failed := receipt(8)
	failed.Mark = func(dc.Tx) error { return errors.New("mark failed") }
	if err := m.Federation().KeepNodeReceipts(ctx, []mechanism.KeptReceipt{receipt(7), failed}); err == nil {
		t.Fatal("KeepNodeReceipts whose mark failed kept them")
	}
	own, err := m.Declare(ctx, alpha, uuid.NewString(), circleDecl(40, 40, start, start.Add(time.Hour)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if own.Operation.Rev-1 != size {
		t.Fatalf("the declaration is entry %d of the log, not %d, where the rolled-back copy was", own.Operation.Rev-1, size)
	}
	if !m.RemembersCopy(size) {
		t.Fatalf("the node does not remember the rolled-back copy at entry %d: the test proves nothing", size)
	}
	if e := peerLogEntry(t, m, size); e.Data == nil {
		t.Fatalf("entry %d, a declaration of alpha's, is withheld from the peer as a copy", size)
	}

	// A copy that committed is withheld, remembered or not.
	if err := m.Federation().KeepNodeReceipt(ctx, receipt(9).Origin, receipt(9).Receipt, nil); err != nil {
		t.Fatal(err)
	}
	pp, err = m.Federation().PeerLog(ctx, []string{"charlie"}, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	after := pp.Size
	entries, err := m.Record().LogEntries(ctx, dc.Actor{Role: dc.RoleAdmin}, after-1, after)
	if err != nil {
		t.Fatal(err)
	}
	if !m.RemembersCopy(after - 1) {
		t.Fatalf("the node does not remember the copy it appended at entry %d", after-1)
	}
	for _, how := range []string{"remembered", "forgotten"} {
		if how == "forgotten" {
			m.ForgetCopies()
		}
		if e := peerLogEntry(t, m, after-1); e.Data != nil || e.LeafHash != entries[0].LeafHash {
			t.Fatalf("%s: the copy of the peer's receipt, entry %d, is sent as %q, leaf hash %x (the log's: %x)", how, after-1, e.Data, e.LeafHash, entries[0].LeafHash)
		}
	}
}

// charlieReceipt is the receipt, by the node of key k1 that hosts
// charlie, of version 1 of op, kept as entry of that node's log.
func charlieReceipt(op *dc.Operation, at time.Time, entry int64) mechanism.KeptReceipt {
	return mechanism.KeptReceipt{
		Origin: mechanism.PeerOrigin{Node: "k1", Index: entry, LeafHash: "aGFzaA=="},
		Receipt: &record.NodeReceipt{
			Operation: op.ID, Party: "alpha", Version: 1, Receiver: []string{"charlie"},
			Key: "k1", ReceivedAt: at.Format(time.RFC3339Nano), Entry: op.Rev - 1, LeafHash: "aGFzaA==",
		},
	}
}

// peerLogEntry is entry index of m's log as m serves it to the node
// that hosts charlie.
func peerLogEntry(t testing.TB, m *mechanism.Mechanism, index int64) mechanism.PeerLogEntry {
	t.Helper()
	pp, err := m.Federation().PeerLog(context.Background(), []string{"charlie"}, index, 1)
	if err != nil {
		t.Fatal(err)
	}
	entries := pp.Entries
	if len(entries) != 1 || entries[0].Index != index {
		t.Fatalf("PeerLog from %d: %+v", index, entries)
	}
	return entries[0]
}

// BenchmarkPeerLog: a page of a node's log as a peer following it asks
// for it, of declarations of the node's party each followed by the copy
// of the peer's receipt of it: with the writer's entries and the copies
// remembered as the process that appended them remembers them, with the
// copies only, and with neither, as another process (or the same after a
// restart) knows none.
func BenchmarkPeerLog(b *testing.B) {
	ctx := context.Background()
	m, clk := mustOpen(b)
	m.Federation().SetPeers([]*dc.Peer{{Key: "k1", Parties: []string{"charlie"}}})
	start := clk.Now().Add(3 * time.Hour)
	alpha := dc.Actor{Party: "alpha", Role: dc.RoleOperator}
	pp, err := m.Federation().PeerLog(ctx, []string{"charlie"}, 0, 1)
	if err != nil {
		b.Fatal(err)
	}
	from := pp.Size
	const n = 250
	for i := range n {
		res, err := m.Declare(ctx, alpha, uuid.NewString(), circleDecl(20+float64(i%40), 20+float64(i/40), start, start.Add(time.Hour)), nil)
		if err != nil {
			b.Fatal(err)
		}
		op := res.Operation
		r := &record.NodeReceipt{Operation: op.ID, Party: "alpha", Version: 1, Receiver: []string{"charlie"},
			Key: "k1", ReceivedAt: clk.Now().Format(time.RFC3339Nano), Entry: op.Rev - 1, LeafHash: "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="}
		if err := m.Federation().KeepNodeReceipt(ctx, mechanism.PeerOrigin{Node: "k1", Index: int64(i), LeafHash: r.LeafHash}, r, nil); err != nil {
			b.Fatal(err)
		}
	}
	page := func(b *testing.B) {
		var entries int
		for b.Loop() {
			pp, err := m.Federation().PeerLog(ctx, []string{"charlie"}, from, mechanism.MaxPeerLogPage)
			if err != nil {
				b.Fatal(err)
			}
			entries += len(pp.Entries)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(entries), "ns/entry")
	}
	b.Run("remembered", page)
	m.WithoutEntries(func() {
		b.Run("copies-remembered", page)
		m.ForgetCopies()
		b.Run("forgotten", page)
	})
}
