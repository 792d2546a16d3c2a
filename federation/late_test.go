package federation_test

import (
	"strings"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/google/uuid"
)

// TestConflictFoundLate: the link between two nodes is cut both ways
// while each declares an operation that conflicts with the other's; when
// it returns, both nodes open the conflict marked found_late with the
// time each party declared its side, and escalate it to their party's
// heads at once, without waiting for ack_timeout_s.
func TestConflictFoundLate(t *testing.T) {
	dir := t.TempDir()
	alpha, bravo := newNode(t, dir, "alpha"), newNode(t, dir, "bravo")
	peerAll(t, alpha, bravo)
	admin := dc.Actor{Role: dc.RoleAdmin}
	for _, n := range []*testNode{alpha, bravo} {
		st, _ := n.mech.Settings().Get(t.Context())
		st.PeerSilenceS = 1
		if _, err := n.mech.Settings().Put(t.Context(), admin, st); err != nil {
			t.Fatal(err)
		}
	}
	waitConverged(t, alpha, bravo)
	alpha.proxy.faults(true, 0, 0, false)
	bravo.proxy.faults(true, 0, 0, false)
	deadline := time.Now().Add(10 * time.Second)
	for { // until the pulls under way when the link was cut have ended
		sa, _ := statusOf(t, alpha, "bravo")
		sb, _ := statusOf(t, bravo, "alpha")
		if sa == dc.PeerStale && sb == dc.PeerStale {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cut links never became stale")
		}
		time.Sleep(100 * time.Millisecond)
	}

	start := time.Now().Add(3 * time.Hour).Truncate(time.Second)
	d := mechanism.Declaration{Volumes: []dc.Volume4D{volume(10, 10, 2, 0, 1000, start, time.Hour)}}
	x, y := uuid.NewString(), uuid.NewString()
	rx, err := alpha.mech.Declare(t.Context(), alpha.actor(dc.RoleOperator), x, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	ry, err := bravo.mech.Declare(t.Context(), bravo.actor(dc.RoleOperator), y, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rx.Conflicts)+len(ry.Conflicts) != 0 {
		t.Fatalf("a conflict was seen through the cut")
	}
	time.Sleep(1500 * time.Millisecond) // longer than peer_silence_s
	alpha.proxy.faults(false, 0, 0, false)
	bravo.proxy.faults(false, 0, 0, false)
	waitConverged(t, alpha, bravo)

	want := map[string]time.Time{"alpha": rx.Operation.UpdatedAt.UTC(), "bravo": ry.Operation.UpdatedAt.UTC()}
	for _, n := range []*testNode{alpha, bravo} {
		c := firstConflict(t, n, "alpha", "bravo")
		if len(c.FoundLate) != 2 || !c.FoundLate["alpha"].Equal(want["alpha"]) || !c.FoundLate["bravo"].Equal(want["bravo"]) {
			t.Errorf("%s: found_late %v, want %v", n.party, c.FoundLate, want)
		}
		evs, err := n.mech.Events(t.Context(), admin, 0, 10000)
		if err != nil {
			t.Fatal(err)
		}
		opened, raised := false, false
		for _, e := range evs {
			switch {
			case e.Type == dc.EventConflictOpened && e.Subject.ID == c.ID:
				opened = opened || containsAll(string(e.Data), `"found_late"`, want["alpha"].Format(time.RFC3339Nano))
			case e.Type == dc.EventEscalationRaised && e.Subject.ID == "conflict:"+c.ID+":"+n.party:
				raised = raised || containsAll(string(e.Data), `"level":1`, "found late")
			}
		}
		if !opened {
			t.Errorf("%s: no conflict.opened event carrying found_late", n.party)
		}
		if !raised {
			t.Errorf("%s: the conflict found late was not escalated to %s's heads at once", n.party, n.party)
		}
		esc, err := n.mech.Duty().Escalations(t.Context(), n.actor(dc.RoleHead), true)
		if err != nil {
			t.Fatal(err)
		}
		if len(esc) != 1 || esc[0].Subject.ID != c.ID || esc[0].Level != 1 {
			t.Errorf("%s: open escalations %+v, want the conflict's at level 1", n.party, esc)
		}
	}
}

// containsAll reports whether s holds every one of subs.
func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
