package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestAuthentication(t *testing.T) {
	s := startServer(t)
	s.do("GET", "/healthz", "", nil).want(t, 200)
	s.do("GET", "/readyz", "", nil).want(t, 200)
	s.do("GET", "/v1/operations", "", nil).want(t, 401, "unauthenticated")
	s.do("GET", "/v1/operations", "dcf_not-a-token", nil).want(t, 401, "unauthenticated")
	s.do("GET", "/v1/operations", "something", nil, "Authorization", "Basic abc").want(t, 401, "unauthenticated")

	tok := s.token("liaison", "alpha")
	who := s.do("GET", "/v1/whoami", tok, nil).want(t, 200)
	if who.body["party"] != "alpha" || who.body["role"] != "liaison" {
		t.Fatalf("whoami = %s", who.raw)
	}
	// A revoked token stops working at once, also while the server runs.
	list := s.mustRun("token", "list")
	var id string
	for _, line := range strings.Split(list, "\n") {
		if strings.Contains(line, "liaison") && strings.Contains(line, "alpha") {
			id = strings.Fields(line)[0]
		}
	}
	if id == "" {
		t.Fatalf("token list does not show the token:\n%s", list)
	}
	if strings.Contains(list, tok) {
		t.Fatal("token list shows the secret")
	}
	ch, _ := s.streamEvents(t, tok, 0)
	s.mustRun("token", "revoke", id)
	s.do("GET", "/v1/whoami", tok, nil).want(t, 401, "unauthenticated")
	// Its open event stream ends too: nothing declared after the
	// revocation reaches it.
	next(t, ch, "error", 3*time.Second)
	s.do("PUT", "/v1/operations/"+newID(), s.token("operator", "alpha"), decl("planned", circle(1, 1, 1000, 0, 100, at(1), at(2)))).want(t, 201)
	deadline := time.After(1500 * time.Millisecond)
	for {
		select {
		case ev := <-ch:
			t.Fatalf("a revoked token's stream received %s", ev.Type)
		case <-deadline:
			return
		}
	}
}

func TestCLI(t *testing.T) {
	s := startServer(t)
	if _, errs, code := s.run("party", "add", "alpha"); code == 0 || !strings.Contains(errs, "exists") {
		t.Fatalf("adding an existing party: exit %d, %q", code, errs)
	}
	if _, errs, code := s.run("party", "add", "Bad_ID"); code == 0 || !strings.Contains(errs, "must match") {
		t.Fatalf("adding a bad party id: exit %d, %q", code, errs)
	}
	if _, _, code := s.run("token", "issue", "--role", "operator"); code == 0 {
		t.Fatal("an operator token without a party was issued")
	}
	if _, _, code := s.run("token", "issue", "--role", "admin", "--party", "alpha"); code == 0 {
		t.Fatal("an admin token with a party was issued")
	}
	if _, errs, code := s.run("token", "issue", "--role", "operator", "--party", "nobody"); code == 0 || !strings.Contains(errs, "nobody") {
		t.Fatalf("token for a missing party: exit %d, %q", code, errs)
	}
	if _, _, code := s.run("token", "issue", "--role", "pilot", "--party", "alpha"); code == 0 {
		t.Fatal("a token with an unknown role was issued")
	}
	out := s.mustRun("token", "issue", "--role", "admin")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "dcf_") {
		t.Fatalf("token issue printed %q, want one token", out)
	}
	for _, args := range [][]string{{"serve", "--help"}, {"party", "add", "--help"}, {"token", "issue", "--help"}, {"--help"}, {"party", "--help"}, {"token", "--help"},
		{"party", "key", "--help"}, {"verify", "--help"}, {"witness", "--help"}, {"key", "--help"}, {"watch", "--help"}, {"ack", "--help"}} {
		if out, _, code := s.run(args...); code != 0 || !strings.Contains(out, "Usage") {
			t.Errorf("deconflict %v: exit %d, %q", args, code, out)
		}
	}
	if !strings.Contains(s.mustRun("party", "list"), "charlie") {
		t.Error("party list does not show charlie")
	}
}

func TestConflictLifecycle(t *testing.T) {
	s := startServer(t)
	opA, opB := s.token("operator", "alpha"), s.token("operator", "bravo")
	liA, headA, headB := s.token("liaison", "alpha"), s.token("head", "alpha"), s.token("head", "bravo")
	opC, obs := s.token("operator", "charlie"), s.token("observer", "charlie")

	a, b := newID(), newID()
	s.do("PUT", "/v1/operations/"+a, opA, decl("planned", circle(33.5, 36.3, 5000, 1000, 3000, at(2), at(3)))).want(t, 201)
	rb := s.do("PUT", "/v1/operations/"+b, opB, decl("planned", circle(33.55, 36.35, 5000, 2000, 4000, at(2.5), at(4)))).want(t, 201)
	if n := len(rb.list("conflicts")); n != 1 {
		t.Fatalf("declaring b: %d conflicts, want 1: %s", n, rb.raw)
	}
	c := rb.list("conflicts")[0].(map[string]any)
	cid := c["id"].(string)
	if c["status"] != "open" || jsonPath(c, "separation", "horizontal_m") != 0.0 {
		t.Fatalf("conflict = %v", c)
	}
	if v := jsonPath(c, "separation", "vertical_m"); v != -1000.0 {
		t.Errorf("vertical separation = %v, want -1000", v)
	}
	if v := jsonPath(c, "separation", "time_s"); v != -1800.0 {
		t.Errorf("time separation = %v, want -1800", v)
	}
	// Both parties see it; a third party does not; an observer does.
	s.do("GET", "/v1/conflicts/"+cid, opA, nil).want(t, 200)
	s.do("GET", "/v1/conflicts/"+cid, opC, nil).want(t, 404, "not_found")
	s.do("GET", "/v1/conflicts/"+cid, obs, nil).want(t, 200)
	if n := len(s.do("GET", "/v1/conflicts", opC, nil).want(t, 200).list("conflicts")); n != 0 {
		t.Errorf("charlie lists %d conflicts, want 0", n)
	}
	if n := len(s.do("GET", "/v1/conflicts?status=open", obs, nil).want(t, 200).list("conflicts")); n != 1 {
		t.Errorf("observer lists %d open conflicts, want 1", n)
	}
	if n := len(s.do("GET", "/v1/operations/"+a, opA, nil).want(t, 200).list("conflicts")); n != 1 {
		t.Errorf("operation a shows %d conflicts, want 1", n)
	}

	// Acknowledgement: liaisons and heads of the parties involved only.
	s.do("POST", "/v1/conflicts/"+cid+"/ack", opA, nil).want(t, 403, "permission_denied")
	s.do("POST", "/v1/conflicts/"+cid+"/ack", s.token("liaison", "charlie"), nil).want(t, 404, "not_found")
	ack := s.do("POST", "/v1/conflicts/"+cid+"/ack", liA, nil).want(t, 200)
	if jsonPath(ack.body, "conflict", "acknowledged", "alpha") == nil || jsonPath(ack.body, "conflict", "acknowledged", "bravo") != nil {
		t.Fatalf("after alpha's ack: %s", ack.raw)
	}

	// Activation is refused while the conflict is open.
	act := s.do("PUT", "/v1/operations/"+a, opA, decl("active", circle(33.5, 36.3, 5000, 1000, 3000, at(2), at(3))), "If-Match", `"1"`)
	act.want(t, 409, "conflict_unresolved")
	if len(act.list("conflicts")) != 1 {
		t.Errorf("409 does not list the conflict: %s", act.raw)
	}
	if v := s.do("GET", "/v1/operations/"+a, opA, nil).obj("operation")["version"]; v != 1.0 {
		t.Fatalf("a refused activation changed the version to %v", v)
	}

	// Waiving needs the heads of both parties.
	s.do("POST", "/v1/conflicts/"+cid+"/waive", liA, nil).want(t, 403, "permission_denied")
	w1 := s.do("POST", "/v1/conflicts/"+cid+"/waive", headA, nil).want(t, 200)
	if jsonPath(w1.body, "conflict", "status") != "open" {
		t.Fatalf("one waiver closed the conflict: %s", w1.raw)
	}
	w2 := s.do("POST", "/v1/conflicts/"+cid+"/waive", headB, nil).want(t, 200)
	if jsonPath(w2.body, "conflict", "status") != "waived" || jsonPath(w2.body, "conflict", "closed_at") == nil {
		t.Fatalf("two waivers: %s", w2.raw)
	}
	s.do("PUT", "/v1/operations/"+a, opA, decl("active", circle(33.5, 36.3, 5000, 1000, 3000, at(2), at(3))), "If-Match", `"1"`).want(t, 200)

	// Moving b's volumes while still in conflict reopens it and clears the waivers.
	mv := s.do("PUT", "/v1/operations/"+b, opB, decl("planned", circle(33.56, 36.36, 5000, 2000, 4000, at(2.5), at(4))), "If-Match", `"1"`).want(t, 200)
	if len(mv.list("conflicts")) != 1 || jsonPath(mv.body, "conflicts", 0, "status") != "open" ||
		jsonPath(mv.body, "conflicts", 0, "waived", "alpha") != nil || jsonPath(mv.body, "conflicts", 0, "acknowledged", "alpha") != nil {
		t.Fatalf("moving b within the conflict: %s", mv.raw)
	}
	if jsonPath(mv.body, "conflicts", 0, "id") != cid {
		t.Error("the pair got a second conflict record")
	}
	// Moving b far away resolves it.
	far := s.do("PUT", "/v1/operations/"+b, opB, decl("planned", circle(36.0, 40.0, 5000, 2000, 4000, at(2.5), at(4))), "If-Match", `"2"`).want(t, 200)
	if len(far.list("conflicts")) != 0 {
		t.Fatalf("b moved away still has conflicts: %s", far.raw)
	}
	got := s.do("GET", "/v1/conflicts/"+cid, obs, nil).want(t, 200)
	if jsonPath(got.body, "conflict", "status") != "resolved" || jsonPath(got.body, "conflict", "closed_at") == nil {
		t.Fatalf("after moving apart: %s", got.raw)
	}
	// Back into conflict, then cancelled: resolved again.
	s.do("PUT", "/v1/operations/"+b, opB, decl("planned", circle(33.55, 36.35, 5000, 2000, 4000, at(2.5), at(4))), "If-Match", `"3"`).want(t, 200)
	if st := jsonPath(s.do("GET", "/v1/conflicts/"+cid, obs, nil).body, "conflict", "status"); st != "open" {
		t.Fatalf("back in conflict: status %v", st)
	}
	s.do("DELETE", "/v1/operations/"+b, opB, nil).want(t, 200)
	if st := jsonPath(s.do("GET", "/v1/conflicts/"+cid, obs, nil).body, "conflict", "status"); st != "resolved" {
		t.Fatalf("after cancel: status %v", st)
	}
}

func TestOperationVersionsAndLifecycle(t *testing.T) {
	s := startServer(t)
	op := s.token("operator", "alpha")
	id := newID()
	body := decl("planned", circle(10, 10, 1000, 0, 100, at(1), at(2)))
	r := s.do("PUT", "/v1/operations/"+id, op, body).want(t, 201)
	if r.header.Get("ETag") != `"1"` || jsonPath(r.body, "operation", "version") != 1.0 || jsonPath(r.body, "operation", "state") != "planned" {
		t.Fatalf("create: ETag %q, %s", r.header.Get("ETag"), r.raw)
	}
	// A repeated create answers the operation as it stands.
	r = s.do("PUT", "/v1/operations/"+id, op, body).want(t, 200)
	if jsonPath(r.body, "operation", "version") != 1.0 {
		t.Fatalf("repeated create: %s", r.raw)
	}
	body2 := decl("planned", circle(10, 10, 2000, 0, 100, at(1), at(2)))
	s.do("PUT", "/v1/operations/"+id, op, body2).want(t, 428, "precondition_required")
	s.do("PUT", "/v1/operations/"+id, op, body2, "If-Match", `"7"`).want(t, 412, "version_mismatch")
	r = s.do("PUT", "/v1/operations/"+id, op, body2, "If-Match", `"1"`).want(t, 200)
	if r.header.Get("ETag") != `"2"` {
		t.Fatalf("replace: ETag %q", r.header.Get("ETag"))
	}
	// A repeated replace answers the operation as it stands.
	r = s.do("PUT", "/v1/operations/"+id, op, body2, "If-Match", `"1"`).want(t, 200)
	if jsonPath(r.body, "operation", "version") != 2.0 {
		t.Fatalf("repeated replace: %s", r.raw)
	}
	s.do("PUT", "/v1/operations/"+id, op, decl("ended", circle(10, 10, 2000, 0, 100, at(1), at(2))), "If-Match", `"2"`).
		want(t, 409, "invalid_transition")
	s.do("PUT", "/v1/operations/"+id, op, decl("active", circle(10, 10, 2000, 0, 100, at(1), at(2))), "If-Match", `"2"`).want(t, 200)
	s.do("PUT", "/v1/operations/"+id, op, decl("planned", circle(10, 10, 2000, 0, 100, at(1), at(2))), "If-Match", `"3"`).
		want(t, 409, "invalid_transition")
	// A replace that leaves the state out keeps it.
	noState := decl("", circle(10, 10, 2500, 0, 100, at(1), at(2)))
	delete(noState, "state")
	r = s.do("PUT", "/v1/operations/"+id, op, noState, "If-Match", `"3"`).want(t, 200)
	if jsonPath(r.body, "operation", "state") != "active" {
		t.Fatalf("a replace without state: %s", r.raw)
	}
	r = s.do("PUT", "/v1/operations/"+id, op, decl("ended", circle(10, 10, 2000, 0, 100, at(1), at(2))), "If-Match", `"4"`).want(t, 200)
	if jsonPath(r.body, "operation", "state") != "ended" {
		t.Fatalf("end: %s", r.raw)
	}
	s.do("DELETE", "/v1/operations/"+id, op, nil).want(t, 409, "invalid_transition")
	s.do("PUT", "/v1/operations/"+id, op, decl("ended", circle(10, 10, 3000, 0, 100, at(1), at(2))), "If-Match", `"5"`).
		want(t, 409, "invalid_transition")

	// Created active; cancelled; a repeated cancel is harmless.
	id2 := newID()
	s.do("PUT", "/v1/operations/"+id2, op, decl("active", circle(10, 10, 1000, 0, 100, at(1), at(2)))).want(t, 201)
	r = s.do("DELETE", "/v1/operations/"+id2, op, nil).want(t, 200)
	// A cancellation is a change: version 2, a new updated_at, its ETag.
	if jsonPath(r.body, "operation", "state") != "cancelled" || jsonPath(r.body, "operation", "version") != 2.0 ||
		jsonPath(r.body, "operation", "updated_at") == jsonPath(r.body, "operation", "created_at") || r.header.Get("ETag") != `"2"` {
		t.Fatalf("cancel: %s %v", r.raw, r.header)
	}
	r = s.do("DELETE", "/v1/operations/"+id2, op, nil).want(t, 200)
	if jsonPath(r.body, "operation", "version") != 2.0 {
		t.Fatalf("a repeated cancel changed the operation again: %s", r.raw)
	}
	s.do("DELETE", "/v1/operations/"+newID(), op, nil).want(t, 404, "not_found")

	s.do("PUT", "/v1/operations/"+newID(), op, decl("ended", circle(10, 10, 1000, 0, 100, at(1), at(2)))).want(t, 400, "invalid_argument", "state")

	// Lists: live ones by default, others on request.
	if n := len(s.do("GET", "/v1/operations", op, nil).want(t, 200).list("operations")); n != 0 {
		t.Errorf("%d live operations listed, want 0", n)
	}
	if n := len(s.do("GET", "/v1/operations?state=ended&state=cancelled", op, nil).want(t, 200).list("operations")); n != 2 {
		t.Errorf("%d ended or cancelled operations listed, want 2", n)
	}

	// UUIDs are case-insensitive: one in capitals names the same
	// operation, answered in lower case.
	id3 := newID()
	r = s.do("PUT", "/v1/operations/"+strings.ToUpper(id3), op, decl("planned", circle(10, 10, 1000, 0, 100, at(1), at(2)))).want(t, 201)
	if jsonPath(r.body, "operation", "id") != id3 {
		t.Fatalf("created as %v, want %s", jsonPath(r.body, "operation", "id"), id3)
	}
	s.do("GET", "/v1/operations/"+id3, op, nil).want(t, 200)
	s.do("GET", "/v1/operations/"+strings.ToUpper(id3), op, nil).want(t, 200)
	s.do("DELETE", "/v1/operations/"+strings.ToUpper(id3), op, nil).want(t, 200)
	s.do("PUT", "/v1/operations/not-a-uuid", op, decl("planned", circle(10, 10, 1000, 0, 100, at(1), at(2)))).want(t, 400, "invalid_argument", "id")
}

func TestIsolation(t *testing.T) {
	s := startServer(t)
	opA, opB := s.token("operator", "alpha"), s.token("operator", "bravo")
	liA, liB := s.token("liaison", "alpha"), s.token("liaison", "bravo")
	id := newID()
	body := decl("planned", circle(20, 20, 1000, 0, 100, at(1), at(2)))
	body["callsign"], body["notes"] = "HAWK 1", "private: tanker late"
	s.do("PUT", "/v1/operations/"+id, opA, body).want(t, 201)

	own := s.do("GET", "/v1/operations/"+id, liA, nil).want(t, 200).obj("operation")
	if own["notes"] != "private: tanker late" || own["callsign"] != "HAWK 1" {
		t.Fatalf("own party sees %v", own)
	}
	// The party's own observer sees the callsign (it is hidden only from
	// other parties), not the notes.
	obs := s.do("GET", "/v1/operations/"+id, s.token("observer", "alpha"), nil).want(t, 200).obj("operation")
	if obs["notes"] != nil || obs["callsign"] != "HAWK 1" {
		t.Fatalf("own party's observer sees %v", obs)
	}
	other := s.do("GET", "/v1/operations/"+id, liB, nil).want(t, 200)
	if o := other.obj("operation"); o["notes"] != nil || o["callsign"] != nil {
		t.Fatalf("other party sees notes or an unshared callsign: %s", other.raw)
	}
	if strings.Contains(string(other.raw), "tanker") {
		t.Fatal("notes leak to another party")
	}
	listed := s.do("GET", "/v1/operations", liB, nil).want(t, 200)
	if strings.Contains(string(listed.raw), "tanker") || strings.Contains(string(listed.raw), "HAWK") {
		t.Fatal("list leaks notes or callsign to another party")
	}
	// Nobody acts in another party's name.
	s.do("PUT", "/v1/operations/"+id, opB, body).want(t, 403, "permission_denied")
	s.do("PUT", "/v1/operations/"+id, opB, body, "If-Match", `"1"`).want(t, 403, "permission_denied")
	s.do("DELETE", "/v1/operations/"+id, opB, nil).want(t, 403, "permission_denied")
	s.do("PUT", "/v1/operations/"+newID(), liA, body).want(t, 403, "permission_denied")
	s.do("PUT", "/v1/operations/"+newID(), s.token("admin", ""), body).want(t, 403, "permission_denied")
	// Sharing the callsign shows it, never the notes.
	body["share_callsign"] = true
	s.do("PUT", "/v1/operations/"+id, opA, body, "If-Match", `"1"`).want(t, 200)
	o := s.do("GET", "/v1/operations/"+id, liB, nil).want(t, 200).obj("operation")
	if o["callsign"] != "HAWK 1" || o["notes"] != nil {
		t.Fatalf("shared callsign: %v", o)
	}
	// Events never carry notes.
	evs := s.do("GET", "/v1/events?after=0", liB, nil).want(t, 200)
	if strings.Contains(string(evs.raw), "tanker") || len(evs.list("events")) == 0 {
		t.Fatalf("events: %s", evs.raw)
	}
	// A change of the notes alone is a new version, but other parties
	// are not told of it (nor asked to acknowledge it); the party is.
	last := evs.list("events")[len(evs.list("events"))-1].(map[string]any)["seq"].(float64)
	body["notes"] = "private: tanker on time"
	s.do("PUT", "/v1/operations/"+id, opA, body, "If-Match", `"2"`).want(t, 200)
	if o := s.do("GET", "/v1/operations/"+id, liB, nil).want(t, 200).obj("operation"); o["version"] != 3.0 {
		t.Fatalf("after a notes change bravo sees version %v, want 3", o["version"])
	}
	after := fmt.Sprintf("/v1/events?after=%d", int64(last))
	if n := len(s.do("GET", after, liB, nil).want(t, 200).list("events")); n != 0 {
		t.Fatalf("bravo was told of alpha's notes change: %d events", n)
	}
	if n := len(s.do("GET", after, liA, nil).want(t, 200).list("events")); n != 1 {
		t.Fatalf("alpha sees %d events of its notes change, want 1", n)
	}
}

func TestSettingsAndCheck(t *testing.T) {
	s := startServer(t)
	admin, opA, opB := s.token("admin", ""), s.token("operator", "alpha"), s.token("operator", "bravo")
	st := s.do("GET", "/v1/settings", opA, nil).want(t, 200)
	if st.body["horizontal_m"] != 9260.0 || st.body["vertical_m"] != 304.8 || st.body["time_s"] != 300.0 ||
		st.body["notice_s"] != 3600.0 || st.body["ack_timeout_s"] != 300.0 {
		t.Fatalf("default settings: %s", st.raw)
	}
	s.do("PUT", "/v1/settings", opA, map[string]any{"horizontal_m": 1}).want(t, 403, "permission_denied")
	s.do("PUT", "/v1/settings", admin, map[string]any{"horizontal_m": -1}).want(t, 400, "invalid_argument", "horizontal_m")
	s.do("PUT", "/v1/settings", admin, map[string]any{"horizontal_nm": 1}).want(t, 400, "invalid_argument")

	// Two circles 12 km apart (edge to edge): no conflict at 9,260 m.
	a := circle(0, 0, 1000, 0, 100, at(1), at(2))
	s.do("PUT", "/v1/operations/"+newID(), opA, decl("planned", a)).want(t, 201)
	gap := 12000.0 + 2000 // centres, so edges are 12 km apart
	lng := gap / 6371008.8 * 180 / 3.141592653589793
	b := circle(0, lng, 1000, 0, 100, at(1), at(2))
	if n := len(s.do("POST", "/v1/check", opB, map[string]any{"volumes": []any{b}}).want(t, 200).list("conflicts")); n != 0 {
		t.Fatalf("what-if at 12 km: %d conflicts, want 0", n)
	}
	s.do("PUT", "/v1/settings", admin, map[string]any{"horizontal_m": 15000}).want(t, 200)
	chk := s.do("POST", "/v1/check", opB, map[string]any{"volumes": []any{b}}).want(t, 200)
	if n := len(chk.list("conflicts")); n != 1 {
		t.Fatalf("what-if at 12 km with 15 km minimum: %d conflicts, want 1", n)
	}
	if h := jsonPath(chk.body, "conflicts", 0, "separation", "horizontal_m").(float64); h < 11999 || h > 12001 {
		t.Errorf("horizontal separation %v, want 12000", h)
	}
	// The check stored nothing and told nobody.
	if n := len(s.do("GET", "/v1/operations?party=bravo", opB, nil).list("operations")); n != 0 {
		t.Fatal("the what-if check stored an operation")
	}
	if n := len(s.do("GET", "/v1/conflicts", opA, nil).list("conflicts")); n != 0 {
		t.Fatal("the what-if check stored a conflict")
	}
	evs := s.do("GET", "/v1/events?after=0", admin, nil).want(t, 200)
	if !strings.Contains(string(evs.raw), "settings.changed") {
		t.Fatalf("no settings.changed event: %s", evs.raw)
	}
}

func TestPagingAndFilters(t *testing.T) {
	s := startServer(t)
	op, obs := s.token("operator", "alpha"), s.token("observer", "bravo")
	ids := map[string]bool{}
	for i := 0; i < 7; i++ {
		id := newID()
		ids[id] = true
		s.do("PUT", "/v1/operations/"+id, op, decl("planned", circle(float64(i), 170+float64(i), 1000, 0, 100, at(float64(i+1)), at(float64(i+2))))).want(t, 201)
	}
	if seen, pages := pageAll(t, s, obs, "operations", 3, "id"); len(seen) != 7 || pages != 3 {
		t.Fatalf("listed %d operations in %d pages, want 7 in 3", len(seen), pages)
	}
	// Every list is paged alike.
	head := s.token("head", "alpha")
	for i := 0; i < 5; i++ {
		s.do("PUT", fmt.Sprintf("/v1/webhooks/hook-%d", i), head, map[string]any{"url": "http://127.0.0.1:9/hook", "events": []string{"operation.declared"}}).want(t, 201)
	}
	if seen, pages := pageAll(t, s, head, "webhooks", 2, "name"); len(seen) != 5 || pages != 3 {
		t.Fatalf("listed %d webhooks in %d pages, want 5 in 3", len(seen), pages)
	}
	if seen, pages := pageAll(t, s, s.token("admin", ""), "parties", 2, "id"); len(seen) != 3 || pages != 2 {
		t.Fatalf("listed %d parties in %d pages, want 3 in 2", len(seen), pages)
	}
	for _, list := range []string{"escalations", "webhooks", "conflicts", "hotline/messages"} {
		s.do("GET", "/v1/"+list+"?limit=0", head, nil).want(t, 400, "invalid_argument", "limit")
	}
	s.do("GET", "/v1/escalations?limit=2", head, nil).want(t, 200)
	// bbox across the antimeridian: operations at lng 170..176 with lat 0..6.
	r := s.do("GET", "/v1/operations?bbox=172.5,-10,-170,10", obs, nil).want(t, 200)
	if n := len(r.list("operations")); n != 4 {
		t.Errorf("bbox 172.5..-170 lists %d, want 4 (lng 173..176)", n)
	}
	r = s.do("GET", fmt.Sprintf("/v1/operations?start=%s&end=%s", at(3.5).Format("2006-01-02T15:04:05Z"), at(4.5).Format("2006-01-02T15:04:05Z")), obs, nil).want(t, 200)
	if n := len(r.list("operations")); n != 2 {
		t.Errorf("time window lists %d, want 2", n)
	}
	s.do("GET", "/v1/operations?limit=0", obs, nil).want(t, 400, "invalid_argument", "limit")
	s.do("GET", "/v1/operations?limit=10001", obs, nil).want(t, 400, "invalid_argument", "limit")
	s.do("GET", "/v1/operations?bbox=1,2,3", obs, nil).want(t, 400, "invalid_argument", "bbox")
	s.do("GET", "/v1/operations?state=flying", obs, nil).want(t, 400, "invalid_argument", "state")
	s.do("GET", "/v1/operations?start=yesterday", obs, nil).want(t, 400, "invalid_argument", "start")
}

// pageAll reads the list at /v1/NAME a page of limit at a time, and
// returns the values of each item's key field and the number of pages.
// An item listed twice fails the test.
func pageAll(t *testing.T, s *testServer, token, name string, limit int, key string) (map[string]bool, int) {
	t.Helper()
	seen := map[string]bool{}
	path := fmt.Sprintf("/v1/%s?limit=%d", name, limit)
	pages := 0
	for {
		r := s.do("GET", path, token, nil).want(t, 200)
		pages++
		items := r.list(name)
		if len(items) > limit {
			t.Fatalf("%s: a page of %d, limit %d", name, len(items), limit)
		}
		for _, o := range items {
			k := o.(map[string]any)[key].(string)
			if seen[k] {
				t.Fatalf("%s: %s listed twice", name, k)
			}
			seen[k] = true
		}
		next, _ := r.body["next"].(string)
		if next == "" {
			return seen, pages
		}
		path = fmt.Sprintf("/v1/%s?limit=%d&after=%s", name, limit, next)
	}
}

func TestOperatingEndpoints(t *testing.T) {
	s := startServer(t)
	op := s.token("operator", "alpha")
	s.do("PUT", "/v1/operations/"+newID(), op, decl("planned", circle(1, 1, 1000, 0, 100, at(1), at(2)))).want(t, 201)
	r := s.do("GET", "/metrics", "", nil)
	if r.status != 200 {
		t.Fatalf("metrics: %d", r.status)
	}
	text := string(r.raw)
	for _, want := range []string{
		`deconflict_http_requests_total{method="PUT",route="PUT /v1/operations/{id}",status="201"} 1`,
		`deconflict_http_request_duration_seconds_bucket{method="PUT",route="PUT /v1/operations/{id}"`,
		"deconflict_live_operations 1",
		"deconflict_open_conflicts 0",
		`deconflict_store_commit_seconds_bucket{le="0.0005"}`,
		`deconflict_store_commit_seconds_bucket{le="+Inf"}`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	// The declaration's commit, at least, was timed; on SQLite the
	// background checkpoints are too.
	if n := s.metric("deconflict_store_commit_seconds_count"); n < 1 {
		t.Errorf("deconflict_store_commit_seconds_count %g after a declaration, want 1 or more", n)
	}
	if strings.HasPrefix(s.store, "sqlite:") && !strings.Contains(text, "deconflict_store_checkpoint_seconds_count ") {
		t.Error("metrics lack deconflict_store_checkpoint_seconds on SQLite")
	}
	api := s.do("GET", "/openapi.json", "", nil).want(t, 200)
	if paths, _ := api.body["paths"].(map[string]any); paths["/v1/operations/{id}"] == nil {
		t.Errorf("openapi.json does not describe /v1/operations/{id}")
	}
	s.do("GET", "/v1/nothing-here", op, nil).want(t, 404, "not_found")
	big := `{"volumes":[],"notes":"` + strings.Repeat("x", 5<<20) + `"}`
	s.do("PUT", "/v1/operations/"+newID(), op, big).want(t, http.StatusRequestEntityTooLarge, "too_large")
}
