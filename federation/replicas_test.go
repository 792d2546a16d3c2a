package federation_test

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/pgtest"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/google/uuid"
)

// TestReplicaLosingLeaseKeepsNothing: the pull lease of alpha's node
// moves from one replica to the other while the first has not noticed
// yet (as when PostgreSQL ends the session of its lease connection), and
// both fetch the same page of bravo's log: the page is kept and applied
// once, and the replica that lost the lease raises no false alert (the
// page it fetched no longer follows what the other kept).
func TestReplicaLosingLeaseKeepsNothing(t *testing.T) {
	r := newReplicated(t, nil, nil)
	a1, a2, gate := r.a1, r.a2, r.gate
	// a1's next request for bravo's log waits at the gate; the lease
	// moves to a2, whose first request waits there too.
	gate.close()
	waitUntil(t, "a1's request at the gate", func() bool { return gate.held() == 1 })
	r.hand.hand("a2")
	waitUntil(t, "a2 to pull and its request at the gate", func() bool { return a2.node.Pulling() && gate.held() == 2 })
	if !a1.node.Pulling() {
		t.Fatal("a1 stopped pulling: the test proves nothing")
	}
	// Both get the same page, with bravo's new entries.
	id := r.declare(t)
	p1, p2 := a1.node.Pulls(), a2.node.Pulls()
	gate.release()
	// Each has dealt with the page once it asks again.
	waitUntil(t, "both replicas to ask for bravo's log again", func() bool { return a1.node.Pulls() > p1 && a2.node.Pulls() > p2 })
	// With their requests held, a2 stored its link's state; a1, told it
	// lost the lease, stops without storing its own over it.
	gate.close()
	waitUntil(t, "a2 to store its link's state", func() bool { return sharedMatchesOwn(t, a2) })
	r.hand.tell("a1")
	waitUntil(t, "a1 to stop and release the lease", func() bool { return r.hand.released("a1") })
	if !sharedMatchesOwn(t, a2) {
		t.Error("the links' states stored for the other replicas are no longer those of a2, which pulls")
	}
	gate.release()
	r.check(t, id)
}

// TestReplicaTakingLeaseWaitsForKeep: the replica holding alpha's pull
// lease is held up in the middle of the write transaction that keeps a
// page of bravo's log, having found the lease still held, and the lease
// moves to the other replica meanwhile: the other starts pulling from
// that page's end once it is kept, not from where the store was before,
// so it neither keeps the page again nor raises a false alert.
func TestReplicaTakingLeaseWaitsForKeep(t *testing.T) {
	r := newReplicated(t, nil, nil)
	a1, a2, gate := r.a1, r.a2, r.gate
	gate.close()
	waitUntil(t, "a1's request at the gate", func() bool { return gate.held() == 1 })
	// a1 stored its links' state for the others: with its request held,
	// its next write transaction is the one that keeps the page.
	waitUntil(t, "a1 to store its link's state", func() bool { return sharedMatchesOwn(t, a1) })
	id := r.declare(t)
	s := r.hand.stallNext("a1")
	gate.release()
	gate.close() // a2's requests wait
	<-s.stalled
	r.hand.hand("a2")
	// a2 either fetches a page (and its request waits at the gate), or
	// waits for the store's write lock without pulling yet.
	waitUntil(t, "a2 to fetch or to wait for a1's transaction", func() bool {
		return gate.held() > 0 || (waitsForWriteLock(t, a1.pgURL) && !a2.node.Pulling())
	})
	close(s.resume)
	gate.release()
	waitUntil(t, "a2 to deal with a page of bravo's log", func() bool { return a2.node.Pulls() >= 2 })
	r.check(t, id)
}

// TestReplicaErrsStaleWhenPullerClockAhead: the clock of the replica of
// alpha's node that pulls runs ahead of the other's (by less than the
// peer requests' signature window, so it pulls). When bravo's link is
// cut, the other replica shows the link stale and refuses an activation
// 409 peer_unreachable once peer_silence_s passed on its own clock since
// it learnt of bravo's last answer, not that much later again as the
// puller's clock would have it.
func TestReplicaErrsStaleWhenPullerClockAhead(t *testing.T) {
	const ahead = 25 * time.Second
	var later atomic.Int64 // how far the test moved both clocks on
	now2 := func() time.Time { return time.Now().Add(time.Duration(later.Load())) }
	now1 := func() time.Time { return now2().Add(ahead) }
	r := newReplicated(t, now1, now2)
	a2 := r.a2
	ctx := t.Context()
	const silence = 5
	st, err := a2.mech.Settings().Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st.PeerSilenceS = silence
	if _, err := a2.mech.Settings().Put(ctx, dc.Actor{Role: dc.RoleAdmin}, st); err != nil {
		t.Fatal(err)
	}
	x := uuid.NewString()
	d := mechanism.Declaration{Volumes: []dc.Volume4D{volume(10, 10, 2, 0, 1000, time.Now().Add(3*time.Hour).Truncate(time.Second), time.Hour)}}
	if _, err := a2.mech.Declare(ctx, a2.actor(dc.RoleOperator), x, d, nil); err != nil {
		t.Fatal(err)
	}
	waitConverged(t, r.a1, r.bravo)
	waitUntil(t, "a2 to show bravo's link up", func() bool {
		s, err := a2.node.Status(ctx)
		return err == nil && len(s.Peers) == 1 && s.Peers[0].LastSeen != nil && s.Peers[0].State == dc.PeerUp
	})

	r.bravo.proxy.faults(true, 0, 0, false)
	// Once a2 shows a failure of the pull, it read bravo's last answer:
	// none came after the cut.
	waitUntil(t, "a2 to show the pull failing", func() bool {
		s, err := a2.node.Status(ctx)
		return err == nil && len(s.Peers) == 1 && s.Peers[0].LastError != ""
	})
	later.Add(int64((silence + 1) * time.Second))
	if state, _ := statusOf(t, a2, "bravo"); state != dc.PeerStale {
		t.Errorf("bravo's link on a2, silent for %ds on its clock: %s, want stale", silence+1, state)
	}
	tok := a2.token(t, dc.RoleOperator, "alpha")
	activate := map[string]any{"volumes": d.Volumes, "state": "active"}
	if status, body := putIfMatch(t, a2.hs.URL+"/v1/operations/"+x, tok, "1", activate); status != 409 || !strings.Contains(body, `"peer_unreachable"`) {
		t.Errorf("activation on a2 while bravo is silent: %d %s, want 409 peer_unreachable", status, body)
	}
}

// TestReplicaStartedLaterJudgesNeverHeardPeerDown: alpha's node, as one
// replica, has never heard from bravo for longer than peer_silence_s, so
// the link is down. A replica started after that shows it down too, and
// refuses an activation 409 peer_unreachable: the node has been up long
// enough, whichever replica started last.
func TestReplicaStartedLaterJudgesNeverHeardPeerDown(t *testing.T) {
	var later atomic.Int64 // how far the test moved the clocks on
	now := func() time.Time { return time.Now().Add(time.Duration(later.Load())) }
	pg := pgtest.Database(t)
	hand := newHandedLease("a1")
	a1 := newLeasedNode(t, "alpha", pg, hand.leaser("a1"), now)
	bravo := newNode(t, t.TempDir(), "bravo")
	bravo.proxy.faults(true, 0, 0, false) // alpha never hears from bravo
	ctx := t.Context()
	const silence = 5
	st, err := a1.mech.Settings().Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st.PeerSilenceS = silence
	if _, err := a1.mech.Settings().Put(ctx, dc.Actor{Role: dc.RoleAdmin}, st); err != nil {
		t.Fatal(err)
	}
	peerAll(t, a1, bravo)
	// a1's failed pulls are stored for the other replicas.
	waitUntil(t, "a1 to store bravo's link failing", func() bool {
		var b []byte
		err := a1.store.View(ctx, func(tx dc.Tx) (err error) { b, err = tx.Meta(ctx, "federation/links"); return err })
		return err == nil && strings.Contains(string(b), `"last_error"`)
	})
	later.Add(int64((silence + 1) * time.Second))
	if state, _ := statusOf(t, a1, "bravo"); state != dc.PeerDown {
		t.Fatalf("bravo's link on a1: %s, want down", state)
	}

	a2 := newReplica(t, a1, hand.leaser("a2"), now)
	waitUntil(t, "a2 to show bravo's link failing", func() bool {
		s, err := a2.node.Status(ctx)
		return err == nil && len(s.Peers) == 1 && s.Peers[0].LastError != ""
	})
	if state, _ := statusOf(t, a2, "bravo"); state != dc.PeerDown {
		t.Errorf("bravo's link on a2, started after bravo was silent for %ds: %s, want down", silence+1, state)
	}
	x := uuid.NewString()
	d := mechanism.Declaration{Volumes: []dc.Volume4D{volume(10, 10, 2, 0, 1000, time.Now().Add(3*time.Hour).Truncate(time.Second), time.Hour)}}
	if _, err := a2.mech.Declare(ctx, a2.actor(dc.RoleOperator), x, d, nil); err != nil {
		t.Fatal(err)
	}
	tok := a2.token(t, dc.RoleOperator, "alpha")
	activate := map[string]any{"volumes": d.Volumes, "state": "active"}
	if status, body := putIfMatch(t, a2.hs.URL+"/v1/operations/"+x, tok, "1", activate); status != 409 || !strings.Contains(body, `"peer_unreachable"`) {
		t.Errorf("activation on a2 while bravo was never heard from: %d %s, want 409 peer_unreachable", status, body)
	}
}
