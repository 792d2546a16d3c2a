package federation_test

import (
	"slices"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/federation"
	"github.com/deconflict/deconflict/record"
)

// TestPeerAddedAgain: adding a peer's descriptor again (a new URL, a new
// area) takes what the descriptor says, and keeps what the node learnt
// of the peer's log.
func TestPeerAddedAgain(t *testing.T) {
	ctx := t.Context()
	alpha := newNode(t, t.TempDir(), "alpha")
	key, err := record.NewKey("hotel-k1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	first := &federation.Descriptor{Parties: []string{"hotel"}, URL: "http://hotel.invalid", Key: key.Verifier, Area: []dc.Box{{30, 30, 31, 31}}}
	if _, err := federation.AddPeer(ctx, alpha.mech, first); err != nil {
		t.Fatal(err)
	}
	wide := dc.DefaultSettings()
	wide.HorizontalM = 20000
	refused := []dc.RefusedEntry{{Operation: "op", Party: "hotel", Index: 3, End: time.Now().UTC()}}
	err = alpha.store.Update(ctx, func(tx dc.Tx) error {
		ftx := tx.(dc.FederationTx)
		peers, err := ftx.Peers(ctx)
		if err != nil {
			return err
		}
		p := peers[0]
		p.Settings, p.Refused, p.RefusedUntracked = &wide, refused, true
		return ftx.PutPeer(ctx, p)
	})
	if err != nil {
		t.Fatal(err)
	}
	second := &federation.Descriptor{Parties: []string{"hotel"}, URL: "http://hotel2.invalid", Key: key.Verifier, Area: []dc.Box{{40, 40, 41, 41}}}
	if _, err := federation.AddPeer(ctx, alpha.mech, second); err != nil {
		t.Fatal(err)
	}
	peers, err := federation.Peers(ctx, alpha.store)
	if err != nil {
		t.Fatal(err)
	}
	if len(peers) != 1 {
		t.Fatalf("%d peers, want 1", len(peers))
	}
	p := peers[0]
	if p.URL != second.URL || !slices.Equal(p.Area, second.Area) {
		t.Errorf("added again: url %s, area %v; want the new descriptor's %s, %v", p.URL, p.Area, second.URL, second.Area)
	}
	if p.Settings == nil || *p.Settings != wide || len(p.Refused) != 1 || !p.RefusedUntracked {
		t.Errorf("added again: settings %v, refused %v (untracked %v); want what the node had learnt kept", p.Settings, p.Refused, p.RefusedUntracked)
	}
}
