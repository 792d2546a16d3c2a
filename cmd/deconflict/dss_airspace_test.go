package main

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// One airspace: a USS's intent is an operation of the USS's party, so a
// conflict with a /v1 party's operation (under the separation minima,
// not mere intersection) is opened and shown like any other, and
// cancelled with the intent.
func TestDSSOneAirspace(t *testing.T) {
	s := startDSS(t)
	s.mustRun("party", "add", "alpha")
	alpha := s.token("operator", "alpha")
	opID := newID()
	s.do("PUT", "/v1/operations/"+opID, alpha, decl("planned", circle(33.5, 36.3, 2000, 1000, 3000, at(1), at(2)))).want(t, 201)

	uss1 := s.tok("uss1", scSCD)
	oid := newID()
	// 5 km east of the operation's edge: no intersection, so no key is
	// needed, but within the 5 NM minimum.
	ref := s.createOIR(t, uss1, oid, ext(33.5, 36.38, 500, 1000, 1200, at(1), at(2)), nil)

	op := s.do("GET", "/v1/operations/"+oid, alpha, nil).want(t, 200)
	if jsonPath(op.body, "operation", "party") != "uss-uss1" || jsonPath(op.body, "operation", "state") != "planned" {
		t.Fatalf("the OIR as an operation = %s", op.raw)
	}
	cs := s.do("GET", "/v1/conflicts", alpha, nil).want(t, 200).list("conflicts")
	if len(cs) != 1 || jsonPath(cs, 0, "status") != "open" {
		t.Fatalf("conflicts of alpha = %v", cs)
	}
	parties := jsonPath(cs, 0, "parties").([]any)
	if !(parties[0] == "alpha" && parties[1] == "uss-uss1" || parties[1] == "alpha" && parties[0] == "uss-uss1") {
		t.Fatalf("conflict parties = %v", parties)
	}

	// F3548 decides when an intent is activated: the open conflict does
	// not stop it, and stays open.
	act := s.do("PUT", oirPath+oid+"/"+str(ref["ovn"]), uss1, oirBody("Activated", ext(33.5, 36.38, 500, 1000, 1200, at(1), at(2)), nil,
		"new_subscription", map[string]any{"uss_base_url": "https://uss1.example"})).want(t, 200).obj("operational_intent_reference")
	if jsonPath(s.do("GET", "/v1/operations/"+oid, alpha, nil).want(t, 200).body, "operation", "state") != "active" {
		t.Fatal("the activated intent is not active")
	}
	// Deleting the intent cancels the operation and resolves the conflict.
	s.do("DELETE", oirPath+oid+"/"+str(act["ovn"]), uss1, nil).want(t, 200)
	if st := jsonPath(s.do("GET", "/v1/operations/"+oid, alpha, nil).want(t, 200).body, "operation", "state"); st != "cancelled" {
		t.Fatalf("operation state after delete = %v", st)
	}
	if cs := s.do("GET", "/v1/conflicts?status=open", alpha, nil).want(t, 200).list("conflicts"); len(cs) != 0 {
		t.Fatalf("open conflicts after delete = %v", cs)
	}
}

// The DSS's records are in the store: a restart keeps OIRs, their OVNs,
// subscriptions and their notification indices, and the keys still
// hold.
func TestDSSRestart(t *testing.T) {
	s := startDSS(t)
	uss1, uss2 := s.tok("uss1", scSCD), s.tok("uss2", scSCD)
	area := ext(60, 10, 800, 0, 100, at(1), at(2))
	subID := newID()
	s.do("PUT", subPath+subID, uss2, subBody(area[0], true, false)).want(t, 200)
	id := newID()
	ref := s.createOIR(t, uss1, id, area, nil, "new_subscription", map[string]any{"uss_base_url": "https://uss1.example"})

	s.stop()
	r := startDSSOn(t, s.store, s.key)
	uss1, uss2 = r.tok("uss1", scSCD), r.tok("uss2", scSCD)
	got := r.do("GET", oirPath+id, uss1, nil).want(t, 200).obj("operational_intent_reference")
	if got["ovn"] != ref["ovn"] || got["version"] != 1.0 || got["subscription_id"] != ref["subscription_id"] {
		t.Fatalf("after restart %v, before %v", got, ref)
	}
	if sub := r.do("GET", subPath+subID, uss2, nil).want(t, 200).obj("subscription"); sub["notification_index"] != 1.0 {
		t.Fatalf("subscription after restart = %v", sub)
	}
	if deps := r.do("GET", subPath+str(ref["subscription_id"]), uss1, nil).want(t, 200).obj("subscription")["dependent_operational_intents"].([]any); len(deps) != 1 {
		t.Fatalf("dependents after restart = %v", deps)
	}
	m := r.do("PUT", oirPath+newID(), uss2, oirBody("Accepted", area, nil)).want(t, 409)
	if l, _ := m.body["missing_operational_intents"].([]any); len(l) != 1 || jsonPath(l, 0, "id") != id {
		t.Fatalf("key check after restart: %s", m.raw)
	}
}

// /v1 operations appear to USSs as constraint references managed by
// "deconflict:<party>", with their details at the mechanism's base URL;
// a USS that processes constraints must name their OVNs in its keys.
func TestDSSOperationsAsConstraints(t *testing.T) {
	s := startDSS(t)
	s.mustRun("party", "add", "alpha")
	alpha := s.token("operator", "alpha")
	opID := newID()
	s.do("PUT", "/v1/operations/"+opID, alpha, map[string]any{"state": "planned", "notes": "secret plan",
		"volumes": []any{circle(20, 20, 3000, 0, 5000, at(1), at(3))}}).want(t, 201)

	cp := s.tok("uss1", scSCD, scCP)
	area := circle(20, 20, 500, 100, 200, at(1.5), at(2))
	l := s.do("POST", conPath+"query", cp, map[string]any{"area_of_interest": area}).want(t, 200).list("constraint_references")
	if len(l) != 1 || jsonPath(l, 0, "id") != opID || jsonPath(l, 0, "manager") != "deconflict:alpha" {
		t.Fatalf("constraints over the operation = %v", l)
	}
	base := str(jsonPath(l, 0, "uss_base_url"))
	if base != s.base+"/dss/mechanism" {
		t.Fatalf("uss_base_url = %s", base)
	}
	s.do("GET", conPath+opID, cp, nil).want(t, 200)

	// A USS asks the manager for the details, as F3548 has it.
	det := s.do("GET", "/dss/mechanism/uss/v1/constraints/"+opID, cp, nil).want(t, 200)
	ovn := str(jsonPath(det.body, "constraint", "reference", "ovn"))
	if len(ovn) < 16 || jsonPath(det.body, "constraint", "details", "volumes", 0, "volume", "outline_circle", "radius", "value") != 3000.0 {
		t.Fatalf("details = %s", det.raw)
	}
	if bytesContain(det.raw, "secret plan") {
		t.Fatal("the details show the party's notes")
	}

	newSub := map[string]any{"uss_base_url": "https://uss1.example", "notify_for_constraints": true}
	oid := newID()
	m := s.do("PUT", oirPath+oid, cp, oirBody("Accepted", []any{area}, nil, "new_subscription", newSub)).want(t, 409)
	if mc, _ := m.body["missing_constraints"].([]any); len(mc) != 1 || jsonPath(mc, 0, "id") != opID {
		t.Fatalf("missing constraints = %s", m.raw)
	}
	s.createOIR(t, cp, oid, []any{area}, []string{ovn}, "new_subscription", newSub)

	// A new version of the operation has a new OVN.
	s.do("PUT", "/v1/operations/"+opID, alpha, map[string]any{"state": "planned",
		"volumes": []any{circle(20, 20, 3100, 0, 5000, at(1), at(3))}}, "If-Match", `"1"`).want(t, 200)
	det2 := s.do("GET", "/dss/mechanism/uss/v1/constraints/"+opID, cp, nil).want(t, 200)
	if jsonPath(det2.body, "constraint", "reference", "ovn") == ovn || jsonPath(det2.body, "constraint", "reference", "version") != 2.0 {
		t.Fatalf("details after a change = %s", det2.raw)
	}
	// OIRs are not served there: their USS serves them.
	s.do("GET", "/dss/mechanism/uss/v1/constraints/"+oid, cp, nil).want(t, 404)
}

func bytesContain(b []byte, s string) bool { return strings.Contains(string(b), s) }

// A USS's intent and a /v1 party's operation declared at the same moment
// in each other's separation: the conflict is found once, whichever is
// decided first.
func TestDSSOneAirspaceRace(t *testing.T) {
	s := startDSS(t)
	s.mustRun("party", "add", "alpha")
	alpha := s.token("operator", "alpha")
	uss1 := s.tok("uss1", scSCD)
	const rounds = 10
	for round := range rounds {
		lat := -20 + float64(round)
		var wg sync.WaitGroup
		var op, oir response
		wg.Add(2)
		go func() {
			defer wg.Done()
			op = s.do("PUT", "/v1/operations/"+newID(), alpha, decl("planned", circle(lat, 100, 1000, 0, 1000, at(1), at(2))))
		}()
		go func() {
			defer wg.Done()
			oir = s.do("PUT", oirPath+newID(), uss1, oirBody("Accepted", ext(lat, 100.05, 500, 0, 100, at(1), at(2)), nil))
		}()
		wg.Wait()
		op.want(t, 201)
		oir.want(t, 201)
	}
	cs := s.do("GET", "/v1/conflicts?status=open", alpha, nil).want(t, 200).list("conflicts")
	if len(cs) != rounds {
		t.Fatalf("%d open conflicts, want %d", len(cs), rounds)
	}
}

// USSs give no receipts (F3548 has no acknowledgement): nothing escalates
// for their silence, and their intents are owed none; a /v1 party still
// owes the acknowledgement of its conflict with an intent.
func TestDSSNoReceiptsFromUSSs(t *testing.T) {
	s := startDSS(t)
	s.mustRun("party", "add", "alpha")
	s.mustRun("party", "add", "bravo")
	admin, alpha := s.token("admin", ""), s.token("operator", "alpha")
	s.do("PUT", "/v1/settings", admin, map[string]any{"ack_timeout_s": 1}).want(t, 200)
	uss1 := s.tok("uss1", scSCD)
	// The USS's party exists before alpha declares.
	oid := newID()
	s.createOIR(t, uss1, oid, ext(10, 10.06, 500, 0, 100, at(1), at(2)), nil)
	opID := newID()
	s.do("PUT", "/v1/operations/"+opID, alpha, decl("planned", circle(10, 10, 2000, 0, 1000, at(1), at(2)))).want(t, 201)
	if cs := s.do("GET", "/v1/conflicts?status=open", alpha, nil).want(t, 200).list("conflicts"); len(cs) != 1 {
		t.Fatalf("open conflicts = %v", cs)
	}

	// Level 1 after a second, level 2 after two: wait for bravo's level 2
	// about alpha's operation, then look at everything raised.
	deadline := time.Now().Add(15 * time.Second)
	for {
		es := s.do("GET", "/v1/escalations", admin, nil).want(t, 200).list("escalations")
		done := false
		for _, e := range es {
			m := e.(map[string]any)
			if strings.HasPrefix(str(m["party"]), "uss-") || jsonPath(m, "subject", "id") == oid {
				t.Fatalf("an escalation for a USS or its intent: %v", m)
			}
			done = done || (m["party"] == "bravo" && jsonPath(m, "subject", "id") == opID && m["level"] == 2.0)
		}
		if done {
			var alphaConflict bool
			for _, e := range es {
				m := e.(map[string]any)
				alphaConflict = alphaConflict || (m["party"] == "alpha" && jsonPath(m, "subject", "kind") == "conflict")
			}
			if !alphaConflict {
				t.Fatalf("alpha's unacknowledged conflict did not escalate: %v", es)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("bravo's duty did not escalate: %v", es)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
