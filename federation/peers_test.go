package federation_test

import (
	"slices"
	"strings"
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

// TestPeerDroppingAPartyIsRefused: a peer's new descriptor that no longer
// names a party its node hosts here is refused and changes nothing, since
// no other node hosts that party and it would become this node's own;
// once the node that hosts it now is added, the new descriptor is taken.
func TestPeerDroppingAPartyIsRefused(t *testing.T) {
	ctx := t.Context()
	alpha := newNode(t, t.TempDir(), "alpha")
	key, err := record.NewKey("hotel-k1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	both := &federation.Descriptor{Parties: []string{"hotel", "india"}, URL: "http://hotel.invalid", Key: key.Verifier}
	if _, err := federation.AddPeer(ctx, alpha.mech, both); err != nil {
		t.Fatal(err)
	}
	for _, removed := range []bool{false, true} {
		if removed {
			if _, err := federation.RemovePeer(ctx, alpha.store, "hotel"); err != nil {
				t.Fatal(err)
			}
		}
		fewer := &federation.Descriptor{Parties: []string{"hotel"}, URL: "http://hotel.invalid", Key: key.Verifier}
		_, err = federation.AddPeer(ctx, alpha.mech, fewer)
		if err == nil || !strings.Contains(err.Error(), "party india") {
			t.Fatalf("removed %v: a descriptor dropping india was taken (err %v)", removed, err)
		}
		local, err := federation.Describe(ctx, alpha.mech)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(local.Parties, "india") {
			t.Fatalf("removed %v: india became alpha's own: %v", removed, local.Parties)
		}
	}
	india, err := record.NewKey("india-k1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := federation.AddPeer(ctx, alpha.mech, &federation.Descriptor{Parties: []string{"india"}, URL: "http://india.invalid", Key: india.Verifier}); err != nil {
		t.Fatal(err)
	}
	if _, err := federation.AddPeer(ctx, alpha.mech, &federation.Descriptor{Parties: []string{"hotel"}, URL: "http://hotel.invalid", Key: key.Verifier}); err != nil {
		t.Fatalf("after india's node took it over: %v", err)
	}
}
