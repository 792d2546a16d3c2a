package federation_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/federation"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/record"
	"github.com/google/uuid"
)

// alertsOf returns a node's alerts of a kind about the peer hosting
// party, newest first.
func alertsOf(t *testing.T, n *testNode, party, kind string) []string {
	t.Helper()
	_, all := statusOf(t, n, party)
	var out []string
	for _, a := range all {
		if strings.HasPrefix(a, kind+":") {
			out = append(out, a)
		}
	}
	return out
}

// waitAlertWith waits until n shows an alert of the kind about the peer
// hosting party that contains every one of want, and returns it.
func waitAlertWith(t *testing.T, n *testNode, party, kind string, want ...string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		for _, a := range alertsOf(t, n, party, kind) {
			has := true
			for _, w := range want {
				has = has && strings.Contains(a, w)
			}
			if has {
				t.Logf("%s: %s", n.party, a)
				// The node reads its peers once the alert committed (as
				// the node that raised it does right after): its
				// mechanism then knows what was recorded with it.
				statusOf(t, n, party)
				return a
			}
		}
		if time.Now().After(deadline) {
			_, all := statusOf(t, n, party)
			t.Fatalf("%s: no %s alert about %s containing %q; alerts: %q", n.party, kind, party, want, all)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitOperation waits until n holds operation id of party.
func waitOperation(t *testing.T, n *testNode, id, party string) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		res, err := n.mech.Operation(t.Context(), dc.Actor{Role: dc.RoleAdmin}, id)
		if err == nil && res.Operation.Party == party {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not hold operation %s of %s: %v", n.party, id, party, err)
		}
	}
}

// TestSquattedOperationID: a hostile node (bravo) copies the ID of
// alpha's operation X into one of its own and gets it to charlie first.
// Charlie cannot hold alpha's X, but it does not miss it silently: it
// raises an id_collision alert naming both parties, the ID and charlie's
// operation X would conflict with, on its record for charlie's heads;
// activating that operation needs a head's override; alpha's later
// versions are checked again (a new alert only when what they would
// conflict with changes), and what is tracked survives a restart. A
// hostile operation reusing the IDs of
// charlie's own operations is alerted the same way, each one.
func TestSquattedOperationID(t *testing.T) {
	dir := t.TempDir()
	alpha, charlie := newNode(t, dir, "alpha"), newNode(t, dir, "charlie")
	peerAll(t, alpha, charlie)
	hostile := newHostilePeer(t)
	key, err := record.NewKey("bravo-k1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	hostile.signWith(t, key)
	if _, err := federation.AddPeer(t.Context(), charlie.mech, &federation.Descriptor{Parties: []string{"bravo"}, URL: hostile.hs.URL, Key: key.Verifier}); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	start := time.Now().Add(3 * time.Hour).Truncate(time.Second)
	here := mechanism.Declaration{Volumes: []dc.Volume4D{volume(10, 10, 2, 0, 1000, start, time.Hour)}}
	far := mechanism.Declaration{Volumes: []dc.Volume4D{volume(-30, 100, 2, 0, 1000, start, time.Hour)}}
	c := uuid.NewString()
	if _, err := charlie.mech.Declare(ctx, charlie.actor(dc.RoleOperator), c, here, nil); err != nil {
		t.Fatal(err)
	}

	// Alpha declares X over charlie's operation while charlie cannot
	// reach alpha; bravo copies X into an operation of its own, far
	// away, which charlie applies first.
	alpha.proxy.faults(true, 0, 0, false)
	x := uuid.NewString()
	if _, err := alpha.mech.Declare(ctx, alpha.actor(dc.RoleOperator), x, here, nil); err != nil {
		t.Fatal(err)
	}
	var log hostileLog
	squat := hostileOperation(t, "bravo")
	squat.Subject.ID = x
	setOperationID(t, squat, x)
	log.add(t, squat)
	hostile.set(func(from int64) *federation.LogPage { return log.page(t, from, 1, key.Signer) })
	waitOperation(t, charlie, x, "bravo")
	alpha.proxy.faults(false, 0, 0, false)

	got := waitAlertWith(t, charlie, "alpha", "id_collision", x, "party alpha", "party bravo", c)
	if !strings.Contains(charlie.logs.String(), "kind=id_collision") {
		t.Errorf("the alert is not in charlie's log")
	}
	evs, err := charlie.mech.Events(ctx, charlie.actor(dc.RoleHead), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var evidence string
	for _, e := range evs {
		if e.Type == dc.EventFederationAlert && strings.Contains(string(e.Data), `"kind":"id_collision"`) {
			var body struct {
				Alert dc.PeerAlert `json:"alert"`
			}
			if err := json.Unmarshal(e.Data, &body); err != nil {
				t.Fatal(err)
			}
			evidence = body.Alert.Evidence
		}
	}
	for _, want := range []string{`"operation":"` + x, `"party":"alpha"`, `"holder":"bravo"`, `"operation":"` + c, "entry_data"} {
		if !strings.Contains(evidence, want) {
			t.Errorf("the alert charlie's heads follow lacks %s in its evidence: %s (alert %s)", want, evidence, got)
		}
	}

	// Charlie's operation may not become active without an override.
	head := charlie.actor(dc.RoleHead)
	active := here
	active.State = dc.StateActive
	v := 1
	_, err = charlie.mech.Declare(ctx, charlie.actor(dc.RoleOperator), c, active, &v)
	if dc.ErrorCode(err) != dc.EPeerUnreachable || !strings.Contains(dc.ErrorMessage(err), x) {
		t.Fatalf("activating charlie's operation over the refused X: %v, want %s naming %s", err, dc.EPeerUnreachable, x)
	}
	if _, err := charlie.mech.Federation().OverrideActivation(ctx, head, c, "coordinated by voice with alpha"); err != nil {
		t.Fatal(err)
	}
	if _, err := charlie.mech.Declare(ctx, charlie.actor(dc.RoleOperator), c, active, &v); err != nil {
		t.Fatalf("activating after the override: %v", err)
	}

	// The refused X is tracked across a restart of charlie's node.
	charlie.shutdown(t)
	charlie.start(t)
	c3 := uuid.NewString()
	_, err = charlie.mech.Declare(ctx, charlie.actor(dc.RoleOperator), c3, active, nil)
	if dc.ErrorCode(err) != dc.EPeerUnreachable {
		t.Fatalf("after a restart, activating a new operation over the refused X: %v, want %s", err, dc.EPeerUnreachable)
	}
	// Adding alpha's descriptor again (as for a new URL) forgets nothing
	// either.
	if _, err := federation.AddPeer(ctx, charlie.mech, alpha.descriptor(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := charlie.node.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = charlie.mech.Declare(ctx, charlie.actor(dc.RoleOperator), c3, active, nil)
	if dc.ErrorCode(err) != dc.EPeerUnreachable {
		t.Fatalf("after alpha was added again, activating a new operation over the refused X: %v, want %s", err, dc.EPeerUnreachable)
	}
	// An ID a peer's party holds here cannot be declared by charlie's
	// clients either; the answer says why.
	_, err = charlie.mech.Declare(ctx, charlie.actor(dc.RoleOperator), x, here, nil)
	if dc.ErrorCode(err) != dc.EPermission || !strings.Contains(dc.ErrorMessage(err), "another ID") {
		t.Fatalf("charlie declaring the ID bravo holds: %v, want %s telling to use another ID", err, dc.EPermission)
	}

	// Alpha moves X away: the version is refused too, and checked again.
	v = 1
	if _, err := alpha.mech.Declare(ctx, alpha.actor(dc.RoleOperator), x, far, &v); err != nil {
		t.Fatal(err)
	}
	waitAlertWith(t, charlie, "alpha", "id_collision", x, "none of this node's operations")
	c2 := uuid.NewString()
	if _, err := charlie.mech.Declare(ctx, charlie.actor(dc.RoleOperator), c2, active, nil); err != nil {
		t.Fatalf("activating a new operation where X no longer is: %v", err)
	}
	// A version that changes only its priority would conflict with
	// the same: it is not alerted again.
	v = 2
	far.Priority = 3
	if _, err := alpha.mech.Declare(ctx, alpha.actor(dc.RoleOperator), x, far, &v); err != nil {
		t.Fatal(err)
	}
	waitConverged(t, alpha, charlie)
	if n := len(alertsOf(t, charlie, "alpha", "id_collision")); n != 2 {
		t.Errorf("charlie shows %d id_collision alerts about alpha's X, want 2 (one per change of what it would conflict with)", n)
	}

	// Bravo reuses the IDs of charlie's own operations, in one page:
	// each is refused and alerted.
	var grown hostileLog // the same first entry, and two more
	grown.add(t, squat)
	for _, id := range []string{c, c2} {
		e := hostileOperation(t, "bravo")
		setOperationID(t, e, id)
		grown.add(t, e)
	}
	hostile.set(func(from int64) *federation.LogPage { return grown.page(t, from, 3, key.Signer) })
	waitAlertWith(t, charlie, "bravo", "id_collision", c, "party charlie of this node")
	waitAlertWith(t, charlie, "bravo", "id_collision", c2, "party charlie of this node")
	for _, id := range []string{c, c2} {
		waitOperation(t, charlie, id, "charlie")
	}
}

// setOperationID gives the operation of a hostile entry the ID id.
func setOperationID(t *testing.T, e *dc.Event, id string) {
	t.Helper()
	var body mechanism.OperationEventData
	if err := json.Unmarshal(e.Data, &body); err != nil {
		t.Fatal(err)
	}
	body.Operation.ID = id
	e.Subject.ID = id
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	e.Data = b
}
