package federation_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/federation"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/google/uuid"
)

// TestStaleAirspace: while bravo's node is stale, alpha's node refuses an
// activation (409 peer_unreachable) only if the operation, widened by
// horizontal_m, could meet bravo's airspace: the area bravo's descriptor
// declares, or the bounding box of an operation of bravo's that alpha
// holds. One far from both activates without an override. Once bravo's
// descriptor declares no area, its airspace is everywhere again.
func TestStaleAirspace(t *testing.T) {
	dir := t.TempDir()
	alpha, bravo := newNode(t, dir, "alpha"), newNode(t, dir, "bravo")
	db := bravo.descriptor(t)
	db.Area = []dc.Box{{10.5, 10, 11, 10.5}} // east of 10.5°E
	if _, err := federation.AddPeer(t.Context(), alpha.mech, db); err != nil {
		t.Fatal(err)
	}
	if _, err := federation.AddPeer(t.Context(), bravo.mech, alpha.descriptor(t)); err != nil {
		t.Fatal(err)
	}
	admin := dc.Actor{Role: dc.RoleAdmin}
	for _, n := range []*testNode{alpha, bravo} {
		st, _ := n.mech.Settings().Get(t.Context())
		st.PeerSilenceS = 1
		if _, err := n.mech.Settings().Put(t.Context(), admin, st); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now().Add(3 * time.Hour).Truncate(time.Second)
	// bravo already flies at 20°N 20°E, low.
	bravoOp := uuid.NewString()
	low := mechanism.Declaration{Volumes: []dc.Volume4D{volume(20, 20, 2, 0, 1000, start, time.Hour)}}
	if _, err := bravo.mech.Declare(t.Context(), bravo.actor(dc.RoleOperator), bravoOp, low, nil); err != nil {
		t.Fatal(err)
	}
	// alpha's operations, all high above bravo's (no conflict with it).
	ops := map[string]mechanism.Declaration{}
	declare := func(name string, lat, lng float64) {
		d := mechanism.Declaration{Volumes: []dc.Volume4D{volume(lat, lng, 2, 5000, 6000, start, time.Hour)}}
		ops[name] = d
		if _, err := alpha.mech.Declare(t.Context(), alpha.actor(dc.RoleOperator), name, d, nil); err != nil {
			t.Fatal(err)
		}
	}
	far, nearArea, nearOp, elsewhere := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
	declare(far, 10, 10)          // about 55 km west of the area
	declare(nearArea, 10.2, 10.4) // about 9 km from the area's edge: less than horizontal_m
	declare(nearOp, 20, 20.1)     // about 6 km from bravo's operation
	declare(elsewhere, -10, -10)  // far from everything
	waitConverged(t, alpha, bravo)
	if st, err := alpha.node.Status(t.Context()); err != nil || len(st.Peers) != 1 || fmt.Sprint(st.Peers[0].Area) != "[[10.5 10 11 10.5]]" {
		t.Fatalf("alpha's status of bravo's node: %+v, %v", st, err)
	}

	bravo.proxy.faults(true, 0, 0, false)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if st, _ := statusOf(t, alpha, "bravo"); st == dc.PeerStale {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bravo's link never became stale on alpha's node")
		}
	}
	tok := alpha.token(t, dc.RoleOperator, "alpha")
	activate := func(id string) (int, string) {
		return putIfMatch(t, alpha.hs.URL+"/v1/operations/"+id, tok, "1", map[string]any{"volumes": ops[id].Volumes, "state": "active"})
	}
	if status, body := activate(far); status != 200 {
		t.Errorf("activating an operation far from bravo's airspace while bravo is stale: %d %s, want 200", status, body)
	}
	if status, body := activate(nearArea); status != 409 || !strings.Contains(body, `"peer_unreachable"`) || !strings.Contains(body, "declared area") {
		t.Errorf("activating an operation within horizontal_m of bravo's area: %d %s, want 409 peer_unreachable", status, body)
	}
	if status, body := activate(nearOp); status != 409 || !strings.Contains(body, `"peer_unreachable"`) || !strings.Contains(body, bravoOp) {
		t.Errorf("activating an operation near bravo's operation %s: %d %s, want 409 peer_unreachable naming it", bravoOp, status, body)
	}
	// The operation activated far from bravo's airspace may not then be
	// moved into it while bravo is still stale: that would bypass the
	// override its activation there needs. Moving it elsewhere far away
	// is fine.
	moved := []dc.Volume4D{volume(10.2, 10.4, 2, 5000, 6000, start, time.Hour)}
	if status, body := putIfMatch(t, alpha.hs.URL+"/v1/operations/"+far, tok, "2", map[string]any{"volumes": moved, "state": "active"}); status != 409 || !strings.Contains(body, `"peer_unreachable"`) || !strings.Contains(body, "declared area") {
		t.Errorf("moving an active operation within horizontal_m of bravo's area while bravo is stale: %d %s, want 409 peer_unreachable", status, body)
	}
	away := []dc.Volume4D{volume(-20, -20, 2, 5000, 6000, start, time.Hour)}
	if status, body := putIfMatch(t, alpha.hs.URL+"/v1/operations/"+far, tok, "2", map[string]any{"volumes": away, "state": "active"}); status != 200 {
		t.Errorf("moving an active operation far from bravo's airspace while bravo is stale: %d %s, want 200", status, body)
	}

	// bravo's descriptor without an area: everywhere is its airspace.
	if _, err := federation.AddPeer(t.Context(), alpha.mech, bravo.descriptor(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := alpha.node.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if status, body := activate(elsewhere); status != 409 || !strings.Contains(body, "declares no area") {
		t.Errorf("activating an operation while bravo, with no area, is stale: %d %s, want 409 peer_unreachable", status, body)
	}
}
