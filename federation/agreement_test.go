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

// waitSettingsAlert waits until n shows (or no longer shows) a settings
// alert about the peer hosting party.
func waitSettingsAlert(t *testing.T, n *testNode, party string, want bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, alerts := statusOf(t, n, party)
		shown := false
		for _, a := range alerts {
			shown = shown || strings.HasPrefix(a, "settings:")
		}
		if shown == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: settings alert about %s shown %v, want %v; alerts %q", n.party, party, shown, want, alerts)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestAgreedMinima: two nodes whose horizontal minima differ decide a
// pair of their parties' operations with the larger: a pair 15 km apart,
// a conflict under alpha's 20 km and not under bravo's 9,260 m, is the
// same conflict on both nodes, while both show the settings alert; once
// the settings match, the alert clears on both sides.
func TestAgreedMinima(t *testing.T) {
	dir := t.TempDir()
	alpha, bravo := newNode(t, dir, "alpha"), newNode(t, dir, "bravo")
	peerAll(t, alpha, bravo)
	ctx := t.Context()
	admin := dc.Actor{Role: dc.RoleAdmin}
	wide := dc.DefaultSettings()
	wide.HorizontalM = 20000
	if _, err := alpha.mech.Settings().Put(ctx, admin, wide); err != nil {
		t.Fatal(err)
	}
	waitSettingsAlert(t, alpha, "bravo", true)
	waitSettingsAlert(t, bravo, "alpha", true)

	start := time.Now().Add(3 * time.Hour).Truncate(time.Second)
	a, b := uuid.NewString(), uuid.NewString()
	// Circles of 2 km whose centres are 0.171° (19 km) apart: 15 km
	// between the footprints.
	da := mechanism.Declaration{Volumes: []dc.Volume4D{volume(10, 10, 2, 0, 1000, start, time.Hour)}}
	db := mechanism.Declaration{Volumes: []dc.Volume4D{volume(10.171, 10, 2, 0, 1000, start, time.Hour)}}
	if _, err := alpha.mech.Declare(ctx, alpha.actor(dc.RoleOperator), a, da, nil); err != nil {
		t.Fatal(err)
	}
	waitConverged(t, alpha, bravo)
	res, err := bravo.mech.Declare(ctx, bravo.actor(dc.RoleOperator), b, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Conflicts) != 1 {
		t.Fatalf("bravo's declaration 15 km from alpha's has %d conflicts on bravo's node, want 1 (alpha's minimum is 20 km)", len(res.Conflicts))
	}
	if h := res.Conflicts[0].Separation.HorizontalM; h < 14000 || h > 16000 {
		t.Fatalf("the pair is %g m apart, want about 15 km", h)
	}
	waitConverged(t, alpha, bravo)
	ca, cb := firstConflict(t, alpha, "alpha", "bravo"), firstConflict(t, bravo, "alpha", "bravo")
	if ca.ID != cb.ID || ca.Operations != cb.Operations || ca.Separation != cb.Separation {
		t.Fatalf("the nodes hold different conflicts: alpha %+v, bravo %+v", ca, cb)
	}

	if _, err := bravo.mech.Settings().Put(ctx, admin, wide); err != nil {
		t.Fatal(err)
	}
	waitSettingsAlert(t, bravo, "alpha", false)
	waitSettingsAlert(t, alpha, "bravo", false)
}

// TestPeerSettingsOutOfRange: a peer's settings that this node's own
// admin could not set (a horizontal minimum over 2,000 km) are refused
// and alerted, and are not used: a pair of operations 2,600 km apart is
// no conflict, as under the largest minimum the settings allow.
func TestPeerSettingsOutOfRange(t *testing.T) {
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
	ctx := t.Context()
	start := time.Now().Add(3 * time.Hour).Truncate(time.Second)
	b := uuid.NewString()
	if _, err := bravo.mech.Declare(ctx, bravo.actor(dc.RoleOperator), b, mechanism.Declaration{Volumes: []dc.Volume4D{volume(10, 10, 2, 0, 1000, start, time.Hour)}}, nil); err != nil {
		t.Fatal(err)
	}

	wide := dc.DefaultSettings()
	wide.HorizontalM = 3_000_000
	data, err := json.Marshal(map[string]any{"settings": wide})
	if err != nil {
		t.Fatal(err)
	}
	var log hostileLog
	log.add(t, &dc.Event{Type: dc.EventSettingsChanged, Time: time.Now().UTC().Truncate(time.Microsecond), Actor: dc.Actor{Role: dc.RoleAdmin},
		Subject: &dc.Subject{Kind: dc.SubjectSettings, ID: "settings"}, Data: data})
	far := hostileOperation(t, "hotel") // 24° of longitude east of bravo's: about 2,600 km
	var body mechanism.OperationEventData
	if err := json.Unmarshal(far.Data, &body); err != nil {
		t.Fatal(err)
	}
	body.Operation.Volumes = []dc.Volume4D{volume(10, 34, 1, 0, 1000, start, time.Hour)}
	if far.Data, err = json.Marshal(body); err != nil {
		t.Fatal(err)
	}
	log.add(t, far)
	hostile.set(func(from int64) *federation.LogPage { return log.page(t, from, 2, key.Signer) })
	waitOperation(t, bravo, body.Operation.ID, "hotel")
	res, err := bravo.mech.Operation(ctx, dc.Actor{Role: dc.RoleAdmin}, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Conflicts) != 0 {
		t.Fatalf("bravo's operation, 2,600 km from hotel's, has a conflict (separation %+v): the peer's horizontal_m of 3,000 km was used", res.Conflicts[0].Separation)
	}
	waitAlertWith(t, bravo, "hotel", "rejected", "horizontal_m")
}
