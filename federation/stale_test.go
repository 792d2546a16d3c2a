package federation_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/federation"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/google/uuid"
)

// statusOf returns a node's view of the peer hosting party.
func statusOf(t *testing.T, n *testNode, party string) (state string, alerts []string) {
	t.Helper()
	st, err := n.node.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range st.Peers {
		for _, q := range p.Parties {
			if q == party {
				for _, a := range p.Alerts {
					alerts = append(alerts, a.Kind+": "+a.Message)
				}
				return p.State, alerts
			}
		}
	}
	t.Fatalf("%s has no peer hosting %s", n.party, party)
	return "", nil
}

// TestStaleLinkAndOverride: while bravo's node is silent longer than
// peer_silence_s, alpha's node shows it stale and refuses an activation
// with 409 peer_unreachable until a head records an override; when the
// link returns, the conflict the cut hid opens on alpha's node too.
func TestStaleLinkAndOverride(t *testing.T) {
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
	start := time.Now().Add(3 * time.Hour).Truncate(time.Second)
	x := uuid.NewString()
	d := mechanism.Declaration{Volumes: []dc.Volume4D{volume(10, 10, 2, 0, 1000, start, time.Hour)}}
	if _, err := alpha.mech.Declare(t.Context(), alpha.actor(dc.RoleOperator), x, d, nil); err != nil {
		t.Fatal(err)
	}
	waitConverged(t, alpha, bravo)
	if st, _ := statusOf(t, alpha, "bravo"); st != dc.PeerUp {
		t.Fatalf("bravo's link before the cut: %s, want up", st)
	}

	bravo.proxy.faults(true, 0, 0, false) // alpha can no longer reach bravo
	deadline := time.Now().Add(10 * time.Second)
	for {
		if st, _ := statusOf(t, alpha, "bravo"); st == dc.PeerStale {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bravo's link never became stale on alpha's node")
		}
		time.Sleep(100 * time.Millisecond)
	}
	y := uuid.NewString()
	if _, err := bravo.mech.Declare(t.Context(), bravo.actor(dc.RoleOperator), y, d, nil); err != nil {
		t.Fatal(err)
	}
	opTok, headTok := alpha.token(t, dc.RoleOperator, "alpha"), alpha.token(t, dc.RoleHead, "alpha")
	activate := map[string]any{"volumes": d.Volumes, "state": "active"}
	if status, body := putIfMatch(t, alpha.hs.URL+"/v1/operations/"+x, opTok, "1", activate); status != 409 || !strings.Contains(body, `"peer_unreachable"`) {
		t.Fatalf("activation while bravo is stale: %d %s, want 409 peer_unreachable", status, body)
	}
	if err := alpha.client(opTok).Do(t.Context(), "POST", "/v1/operations/"+x+"/override", map[string]string{"reason": "coordinated by voice over the hotline"}, nil); err == nil {
		t.Errorf("an operator recorded an override")
	}
	if err := alpha.client(headTok).Do(t.Context(), "POST", "/v1/operations/"+x+"/override", map[string]string{"reason": "coordinated by voice over the hotline"}, nil); err != nil {
		t.Fatal(err)
	}
	if status, body := putIfMatch(t, alpha.hs.URL+"/v1/operations/"+x, opTok, "1", activate); status != 200 {
		t.Fatalf("activation after the head's override: %d %s", status, body)
	}

	bravo.proxy.faults(false, 0, 0, false)
	waitConverged(t, alpha, bravo)
	if st, _ := statusOf(t, alpha, "bravo"); st != dc.PeerUp {
		t.Errorf("bravo's link after it returned: %s, want up", st)
	}
	c := firstConflict(t, alpha, "alpha", "bravo")
	if c.Operations != [2]string{min(x, y), max(x, y)} {
		t.Errorf("the conflict the cut hid: %v", c.Operations)
	}
	checkSameConflicts(t, alpha, bravo)
	evs, _ := alpha.mech.Events(t.Context(), admin, 0, 10000)
	found := false
	for _, e := range evs {
		found = found || (e.Type == dc.EventOperationOverride && strings.Contains(string(e.Data), "coordinated by voice"))
	}
	if !found {
		t.Errorf("the override is not on alpha's record")
	}
}

// putIfMatch sends a PUT with If-Match and returns the status and body.
func putIfMatch(t *testing.T, url, token, version string, body any) (int, string) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(t.Context(), "PUT", url, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("If-Match", `"`+version+`"`)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(rb)
}

// TestSettingsAgreement: when one node changes the minima the parties
// agreed, both nodes show it as an alert until the other matches.
func TestSettingsAgreement(t *testing.T) {
	dir := t.TempDir()
	alpha, bravo := newNode(t, dir, "alpha"), newNode(t, dir, "bravo")
	peerAll(t, alpha, bravo)
	admin := dc.Actor{Role: dc.RoleAdmin}
	set := func(n *testNode, h float64) {
		st, _ := n.mech.Settings().Get(t.Context())
		st.HorizontalM = h
		if _, err := n.mech.Settings().Put(t.Context(), admin, st); err != nil {
			t.Fatal(err)
		}
	}
	hasSettingsAlert := func(n *testNode, party string) bool {
		_, alerts := statusOf(t, n, party)
		for _, a := range alerts {
			if strings.HasPrefix(a, "settings:") && strings.Contains(a, "horizontal_m") {
				return true
			}
		}
		return false
	}
	set(alpha, 5000)
	waitConverged(t, alpha, bravo)
	if !hasSettingsAlert(alpha, "bravo") || !hasSettingsAlert(bravo, "alpha") {
		t.Errorf("differing minima are not alerted on both sides")
	}
	set(bravo, 5000)
	waitConverged(t, alpha, bravo)
	if hasSettingsAlert(alpha, "bravo") || hasSettingsAlert(bravo, "alpha") {
		t.Errorf("an alert stays after the settings match")
	}
}

// TestRemovedPeer: a removed peer is neither pulled from nor answered,
// and its party stays hosted elsewhere: nobody may act for it here, and
// it is not among this node's parties.
func TestRemovedPeer(t *testing.T) {
	dir := t.TempDir()
	alpha, bravo := newNode(t, dir, "alpha"), newNode(t, dir, "bravo")
	peerAll(t, alpha, bravo)
	waitConverged(t, alpha, bravo)
	if _, err := federation.RemovePeer(t.Context(), alpha.store, "bravo"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the node reads its peers again
	st, err := alpha.node.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Peers) != 0 || fmt.Sprint(st.Node.Parties) != "[alpha]" {
		t.Errorf("after removing bravo: %+v", st)
	}
	d := mechanism.Declaration{Volumes: []dc.Volume4D{volume(10, 10, 2, 0, 1000, time.Now().Add(3*time.Hour), time.Hour)}}
	if _, err := alpha.mech.Declare(t.Context(), dc.Actor{Party: "bravo", Role: dc.RoleOperator}, uuid.NewString(), d, nil); dc.ErrorCode(err) != dc.EForbidden {
		t.Errorf("declaring for bravo on alpha's node after the removal: %v, want forbidden", err)
	}
	// bravo's node is no longer answered by alpha's.
	bk, _ := bravo.mech.Federation().NodeKey(t.Context())
	signer, _ := federation.NewRequestSigner(bk.Signer, bk.Verifier)
	req, _ := http.NewRequestWithContext(t.Context(), "GET", alpha.hs.URL+federation.LogPath+"?from=0&to="+url.QueryEscape(alpha.descriptor(t).Key), nil)
	signer.Sign(req, nil, time.Now())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("a removed peer's request: %d, want 401", resp.StatusCode)
	}
	// Adding it again resumes where it stopped.
	if _, err := federation.AddPeer(t.Context(), alpha.mech, bravo.descriptor(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := bravo.mech.Declare(t.Context(), bravo.actor(dc.RoleOperator), uuid.NewString(), d, nil); err != nil {
		t.Fatal(err)
	}
	waitConverged(t, alpha, bravo)
	checkSameConflicts(t, alpha, bravo)
}
