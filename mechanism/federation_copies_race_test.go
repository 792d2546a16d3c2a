package mechanism_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/google/uuid"
)

// TestPeerLogWhileCopiesRollBack: pages served while the node declares,
// keeps peers' receipts and rolls back keeps that fail send every entry
// as the log finally holds it: a copy as its leaf hash only, every other
// entry whole. Run it with -race: the node's memory of its copies is
// written by the writer and read by every page served.
func TestPeerLogWhileCopiesRollBack(t *testing.T) {
	ctx := context.Background()
	m, clk := mustOpen(t)
	m.Federation().SetPeers([]*dc.Peer{{Key: "k1", Parties: []string{"charlie"}}})
	start := clk.Now().Add(3 * time.Hour)
	alpha := dc.Actor{Party: "alpha", Role: dc.RoleOperator}
	const rounds = 40
	var pages [][]mechanism.PeerLogEntry
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			pp, err := m.Federation().PeerLog(ctx, []string{"charlie"}, 0, mechanism.MaxPeerLogPage)
			if err != nil {
				t.Error(err)
				return
			}
			es := pp.Entries
			pages = append(pages, es)
		}
	}()
	for i := range rounds {
		res, err := m.Declare(ctx, alpha, uuid.NewString(), circleDecl(20+float64(i%10), 20+float64(i/10), start, start.Add(time.Hour)), nil)
		if err != nil {
			t.Fatal(err)
		}
		receipt := func(entry int64) mechanism.KeptReceipt { return charlieReceipt(res.Operation, clk.Now(), entry) }
		if i%2 == 0 {
			failed := receipt(int64(2*i + 1))
			failed.Mark = func(dc.Tx) error { return errors.New("mark failed") }
			if err := m.Federation().KeepNodeReceipts(ctx, []mechanism.KeptReceipt{receipt(int64(2 * i)), failed}); err == nil {
				t.Fatal("KeepNodeReceipts whose mark failed kept them")
			}
		} else if err := m.Federation().KeepNodeReceipt(ctx, receipt(int64(2*i)).Origin, receipt(int64(2*i)).Receipt, nil); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	pp, err := m.Federation().PeerLog(ctx, []string{"charlie"}, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	size := pp.Size
	truth, err := m.Record().LogEntries(ctx, dc.Actor{Role: dc.RoleAdmin}, 0, size)
	if err != nil {
		t.Fatal(err)
	}
	copies := 0
	for _, e := range truth {
		if strings.Contains(*e.Data, `"replicated"`) {
			copies++
		}
	}
	if copies != rounds/2 {
		t.Fatalf("%d copies in the log, want %d: the test proves nothing", copies, rounds/2)
	}
	pp, err = m.Federation().PeerLog(ctx, []string{"charlie"}, 0, mechanism.MaxPeerLogPage)
	if err != nil {
		t.Fatal(err)
	}
	last := pp.Entries
	for _, es := range append(pages, last) {
		for _, e := range es {
			want := truth[e.Index]
			isCopy := strings.Contains(*want.Data, `"replicated"`)
			switch {
			case e.LeafHash != want.LeafHash:
				t.Fatalf("entry %d sent with leaf hash %x, the log's is %x", e.Index, e.LeafHash, want.LeafHash)
			case isCopy && e.Data != nil:
				t.Fatalf("entry %d, a copy, sent whole", e.Index)
			case !isCopy && e.Data == nil && strings.Contains(*want.Data, `"alpha"`):
				t.Fatalf("entry %d, not a copy, withheld: %s", e.Index, *want.Data)
			}
		}
	}
	t.Logf("%d pages checked", len(pages)+1)
}
