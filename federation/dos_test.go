package federation_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/federation"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/record"
	"github.com/deconflict/deconflict/sqlite"
	"golang.org/x/mod/sumdb/tlog"
)

// countingStore counts the read transactions of a store.
type countingStore struct {
	dc.Store
	views atomic.Int64
}

func (s *countingStore) View(ctx context.Context, fn func(dc.Tx) error) error {
	s.views.Add(1)
	return s.Store.View(ctx, fn)
}

// TestStrangerRequestsDoNotReadTheStore: requests that anyone can send,
// unsigned or signed by a key of no peer, are refused without making the
// node read its peers from the store each time.
func TestStrangerRequestsDoNotReadTheStore(t *testing.T) {
	ctx := t.Context()
	base, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "alpha.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	store := &countingStore{Store: base}
	m := mechanism.New(store, mechanism.Options{})
	if err := m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Access().AddParty(ctx, "alpha", ""); err != nil {
		t.Fatal(err)
	}
	n := federation.New(m, federation.Options{Refresh: time.Hour})
	hs := httptest.NewServer(n.Handler())
	defer hs.Close()
	stranger, _ := record.NewKey("stranger-k1", time.Now())
	signer, _ := federation.NewRequestSigner(stranger.Signer, stranger.Verifier)
	before := store.views.Load()
	for i := range 40 {
		req, _ := http.NewRequestWithContext(ctx, "GET", hs.URL+federation.LogPath+"?from=0", nil)
		if i%2 == 0 {
			signer.Sign(req, nil, time.Now())
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("stranger's request %d: %d, want 401", i, resp.StatusCode)
		}
	}
	if reads := store.views.Load() - before; reads > 2 {
		t.Errorf("40 refused requests of strangers made %d reads of the store", reads)
	}
}

// TestOversizedPage: a peer that answers a pull with more entries than
// it was asked for is refused, so that it cannot make this node verify
// and store an unbounded page in one transaction (holding the store's
// write lock meanwhile).
func TestOversizedPage(t *testing.T) {
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
	const n = 2000
	var log hostileLog
	for i := range n {
		log.add(t, &dc.Event{Type: dc.EventPartyAdded, Time: time.Unix(int64(i), 0).UTC(), Actor: dc.Actor{Role: dc.RoleAdmin}})
	}
	page := log.page(t, 0, n, key.Signer)
	for i := range page.Entries {
		page.Entries[i] = federation.WireEntry{Index: int64(i), LeafHash: tlog.RecordHash(log.entries[i]).String()}
	}
	hostile.set(func(from int64) *federation.LogPage { return page })
	waitAlert(t, bravo, "hotel", "malformed")
	var peers []*dc.Peer
	bravo.store.View(t.Context(), func(tx dc.Tx) (err error) { peers, err = tx.(dc.FederationTx).Peers(t.Context()); return err })
	if len(peers) != 1 || peers[0].Verified != 0 {
		t.Errorf("bravo verified %d entries of one page", peers[0].Verified)
	}
}

// TestRequestForAnotherNode: a signed peer request is good only at the
// node it names: a node that received one (or anyone who saw it) cannot
// replay it to another node that trusts the same signer and read that
// node's log as the signer's parties see it.
func TestRequestForAnotherNode(t *testing.T) {
	dir := t.TempDir()
	alpha, bravo, charlie := newNode(t, dir, "alpha"), newNode(t, dir, "bravo"), newNode(t, dir, "charlie")
	peerAll(t, alpha, bravo, charlie)
	bk, _ := bravo.mech.Federation().NodeKey(t.Context())
	signer, err := federation.NewRequestSigner(bk.Signer, bk.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	get := func(n *testNode, to string) int {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", n.hs.URL+federation.LogPath+"?from=0&to="+url.QueryEscape(to), nil)
		signer.Sign(req, nil, time.Now())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if status := get(charlie, charlie.descriptor(t).Key); status != http.StatusOK {
		t.Fatalf("bravo's request to charlie: %d", status)
	}
	if status := get(charlie, alpha.descriptor(t).Key); status != http.StatusUnauthorized {
		t.Errorf("bravo's request for alpha, replayed to charlie: %d, want 401", status)
	}
	if status := get(charlie, ""); status != http.StatusUnauthorized {
		t.Errorf("bravo's request for no node in particular, sent to charlie: %d, want 401", status)
	}
}

// TestAlternatingAlerts: a peer that alternates between two faults at
// every retry adds two alerts to this node's log, not one per retry.
func TestAlternatingAlerts(t *testing.T) {
	bravo := newNode(t, t.TempDir(), "bravo")
	key, _ := record.NewKey("hotel-k1", time.Now())
	if _, err := federation.AddPeer(t.Context(), bravo.mech, &federation.Descriptor{Parties: []string{"hotel"}, URL: "http://hotel.invalid", Key: key.Verifier}); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		a := &dc.PeerAlert{Peer: key.Verifier, Kind: "rollback", Message: "rolled back", At: time.Now().UTC()}
		if i%2 == 1 {
			a.Kind, a.Message = "bad_signature", "bad signature"
		}
		if err := bravo.mech.Federation().KeepPeerAlert(t.Context(), a); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := bravo.mech.Events(t.Context(), bravo.actor(dc.RoleHead), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Type == dc.EventFederationAlert {
			n++
		}
	}
	if n != 2 {
		t.Errorf("20 alternating alerts put %d alerts on the record, want 2", n)
	}
}

// TestPeersAddedTogether: two peers added one after the other (as an
// administrator adds a coalition's nodes) are both answered at their
// first request, although the first one's request made the node read its
// peers just before the second was added. The node's clock is frozen, so
// that nothing but the node reading its peers again can let the second
// one in.
func TestPeersAddedTogether(t *testing.T) {
	ctx := t.Context()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "charlie.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	m := mechanism.New(store, mechanism.Options{})
	if err := m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Access().AddParty(ctx, "charlie", ""); err != nil {
		t.Fatal(err)
	}
	self, err := federation.Init(ctx, m, "http://charlie.invalid")
	if err != nil {
		t.Fatal(err)
	}
	frozen := time.Now()
	// No Run: the node reads its peers only when a request makes it.
	n := federation.New(m, federation.Options{Now: func() time.Time { return frozen }, Refresh: 300 * time.Millisecond})
	if _, err := n.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(n.Handler())
	defer hs.Close()
	for _, party := range []string{"alpha", "bravo"} {
		key, err := record.NewKey(party+"-k1", frozen)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := federation.AddPeer(ctx, m, &federation.Descriptor{Parties: []string{party}, URL: "http://" + party + ".invalid", Key: key.Verifier}); err != nil {
			t.Fatal(err)
		}
		signer, err := federation.NewRequestSigner(key.Signer, key.Verifier)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequestWithContext(ctx, "GET", hs.URL+federation.LogPath+"?from=0&to="+url.QueryEscape(self.Key), nil)
		signer.Sign(req, nil, frozen)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("the first request of %s, added as a peer before it: %d, want 200", party, resp.StatusCode)
		}
	}
}
