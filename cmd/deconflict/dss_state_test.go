package main

import (
	"testing"
)

// The InterUSS uss_qualifier scenario "OIR state transitions"
// (dss/op_intent_ref_state_transitions): created Accepted only;
// off-nominal states need the conformance monitoring scope; Activated
// and off-nominal states need a subscription.
func TestDSSStateTransitions(t *testing.T) {
	s := startDSS(t)
	scd, cmsa := s.tok("uss1", scSCD), s.tok("uss1", scSCD, scCMSA)
	area := ext(48.0, 2.0, 500, 0, 150, at(1), at(2))
	sub := map[string]any{"uss_base_url": "https://uss1.example"}

	for _, st := range []string{"Nonconforming", "Contingent"} {
		if r := s.do("PUT", oirPath+newID(), scd, oirBody(st, area, nil, "new_subscription", sub)); r.status != 403 && r.status != 400 {
			t.Fatalf("created %s without the CMSA scope: %d %s", st, r.status, r.raw)
		}
		s.do("PUT", oirPath+newID(), cmsa, oirBody(st, area, nil, "new_subscription", sub)).want(t, 400)
	}
	s.do("PUT", oirPath+newID(), scd, oirBody("Activated", area, nil, "new_subscription", sub)).want(t, 400)
	s.do("PUT", oirPath+newID(), scd, oirBody("Ended", area, nil)).want(t, 400)

	id := newID()
	ref := s.createOIR(t, scd, id, area, nil)
	// Activated needs a subscription.
	s.do("PUT", oirPath+id+"/"+str(ref["ovn"]), scd, oirBody("Activated", area, nil)).want(t, 400)
	ref = s.do("PUT", oirPath+id+"/"+str(ref["ovn"]), scd, oirBody("Activated", area, nil, "new_subscription", sub)).want(t, 200).obj("operational_intent_reference")
	if ref["state"] != "Activated" || ref["subscription_id"] == "00000000-0000-4000-8000-000000000000" {
		t.Fatalf("activated reference = %v", ref)
	}
	subID := str(ref["subscription_id"])
	// Off-nominal needs the CMSA scope, and keeps the subscription.
	s.do("PUT", oirPath+id+"/"+str(ref["ovn"]), scd, oirBody("Nonconforming", area, nil, "subscription_id", subID)).want(t, 403)
	for _, st := range []string{"Nonconforming", "Contingent", "Activated", "Accepted"} {
		ref = s.do("PUT", oirPath+id+"/"+str(ref["ovn"]), cmsa, oirBody(st, area, nil, "subscription_id", subID)).want(t, 200).obj("operational_intent_reference")
		if ref["state"] != st {
			t.Fatalf("state %v, want %s", ref["state"], st)
		}
	}
	del := s.do("DELETE", oirPath+id+"/"+str(ref["ovn"]), scd, nil).want(t, 200)
	if jsonPath(del.body, "subscribers", 0, "subscriptions", 0, "subscription_id") != subID {
		t.Fatalf("the deletion does not notify its own implicit subscription: %s", del.raw)
	}
	// The implicit subscription went with its only OIR.
	s.do("GET", "/dss/v1/subscriptions/"+subID, scd, nil).want(t, 404)
}

// The InterUSS uss_qualifier scenario "OIR access control"
// (dss/op_intent_ref_access_control): only the manager changes or
// deletes an OIR or its subscription.
func TestDSSAccessControl(t *testing.T) {
	s := startDSS(t)
	uss1, uss2 := s.tok("uss1", scSCD), s.tok("uss2", scSCD)
	area := ext(-33.9, 151.2, 400, 0, 100, at(1), at(2))
	id := newID()
	ref := s.createOIR(t, uss1, id, area, nil)
	ovn := str(ref["ovn"])
	dssMessage(t, s.do("PUT", oirPath+id+"/"+ovn, uss2, oirBody("Accepted", area, nil)).want(t, 403))
	dssMessage(t, s.do("DELETE", oirPath+id+"/"+ovn, uss2, nil).want(t, 403))
	if got := s.do("GET", oirPath+id, uss1, nil).want(t, 200).obj("operational_intent_reference"); got["ovn"] != ovn || got["version"] != 1.0 {
		t.Fatalf("another USS changed the OIR: %v", got)
	}

	subID := newID()
	sub := s.do("PUT", "/dss/v1/subscriptions/"+subID, uss1, subBody(area[0], true, false)).want(t, 200).obj("subscription")
	s.do("GET", "/dss/v1/subscriptions/"+subID, uss2, nil).want(t, 403)
	s.do("PUT", "/dss/v1/subscriptions/"+subID+"/"+str(sub["version"]), uss2, subBody(area[0], true, false)).want(t, 403)
	s.do("DELETE", "/dss/v1/subscriptions/"+subID+"/"+str(sub["version"]), uss2, nil).want(t, 403)
	if l := s.do("POST", "/dss/v1/subscriptions/query", uss2, map[string]any{"area_of_interest": area[0]}).want(t, 200).list("subscriptions"); len(l) != 0 {
		t.Fatalf("another USS's subscriptions are listed: %v", l)
	}
	// Nor may another USS attach its OIR to uss1's subscription.
	s.do("PUT", oirPath+newID(), uss2, oirBody("Accepted", area, []string{ovn}, "subscription_id", subID)).want(t, 403)
	s.do("DELETE", "/dss/v1/subscriptions/"+subID+"/"+str(sub["version"]), uss1, nil).want(t, 200)
}

// subBody returns the body of a subscription's create or update.
func subBody(extents any, forOIRs, forCons bool) map[string]any {
	return map[string]any{"extents": extents, "uss_base_url": "https://uss.example/sub",
		"notify_for_operational_intents": forOIRs, "notify_for_constraints": forCons}
}
