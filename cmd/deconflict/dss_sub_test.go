package main

import (
	"testing"
	"time"
)

const subPath = "/dss/v1/subscriptions/"

// The InterUSS uss_qualifier scenarios "subscription simple" and
// "subscription interactions" (dss/subscription_simple,
// dss/subscription_interactions): explicit subscriptions are notified of
// changes in their area, with an index that grows by one each time, and
// each answer lists the subscribers to notify.
func TestDSSExplicitSubscription(t *testing.T) {
	s := startDSS(t)
	uss1, uss2 := s.tok("uss1", scSCD), s.tok("uss2", scSCD)
	area := circle(51.5, -0.1, 2000, 0, 300, at(0.5), at(4))
	subID := newID()
	r := s.do("PUT", subPath+subID, uss2, subBody(area, true, false)).want(t, 200)
	sub := r.obj("subscription")
	if sub["id"] != subID || sub["notification_index"] != 0.0 || sub["implicit_subscription"] != false || str(sub["version"]) == "" {
		t.Fatalf("created subscription = %s", r.raw)
	}
	if l, ok := r.body["operational_intent_references"].([]any); !ok || len(l) != 0 {
		t.Fatalf("operational_intent_references = %v", r.body["operational_intent_references"])
	}

	id := newID()
	cr := s.do("PUT", oirPath+id, uss1, oirBody("Accepted", ext(51.5, -0.1, 300, 0, 100, at(1), at(2)), nil)).want(t, 201)
	subs, _ := cr.body["subscribers"].([]any)
	if len(subs) != 1 || jsonPath(subs, 0, "uss_base_url") != "https://uss.example/sub" ||
		jsonPath(subs, 0, "subscriptions", 0, "subscription_id") != subID || jsonPath(subs, 0, "subscriptions", 0, "notification_index") != 1.0 {
		t.Fatalf("subscribers = %s", cr.raw)
	}
	ref := cr.obj("operational_intent_reference")
	// Elsewhere: nobody to notify.
	far := s.do("PUT", oirPath+newID(), uss1, oirBody("Accepted", ext(52.5, -0.1, 300, 0, 100, at(1), at(2)), nil)).want(t, 201)
	if l, _ := far.body["subscribers"].([]any); len(l) != 0 {
		t.Fatalf("subscribers of an OIR elsewhere: %s", far.raw)
	}
	// An update notifies again; a delete too.
	up := s.do("PUT", oirPath+id+"/"+str(ref["ovn"]), uss1, oirBody("Accepted", ext(51.5, -0.1, 400, 0, 100, at(1), at(2)), nil)).want(t, 200)
	if jsonPath(up.body, "subscribers", 0, "subscriptions", 0, "notification_index") != 2.0 {
		t.Fatalf("after update: %s", up.raw)
	}
	del := s.do("DELETE", oirPath+id+"/"+str(up.obj("operational_intent_reference")["ovn"]), uss1, nil).want(t, 200)
	if jsonPath(del.body, "subscribers", 0, "subscriptions", 0, "notification_index") != 3.0 {
		t.Fatalf("after delete: %s", del.raw)
	}
	got := s.do("GET", subPath+subID, uss2, nil).want(t, 200).obj("subscription")
	if got["notification_index"] != 3.0 {
		t.Fatalf("GET subscription = %v", got)
	}
	q := s.do("POST", subPath+"query", uss2, map[string]any{"area_of_interest": circle(51.5, -0.1, 100, 0, 50, at(1), at(1.5))}).want(t, 200)
	if l := q.list("subscriptions"); len(l) != 1 || jsonPath(l, 0, "id") != subID {
		t.Fatalf("query = %s", q.raw)
	}

	// A subscription made over existing OIRs lists them.
	sub2 := s.do("PUT", subPath+newID(), uss2, subBody(circle(52.5, -0.1, 1000, 0, 300, at(0.5), at(4)), true, false)).want(t, 200)
	if l, _ := sub2.body["operational_intent_references"].([]any); len(l) != 1 || jsonPath(l, 0, "ovn") != "Available from USS" {
		t.Fatalf("new subscription over an OIR: %s", sub2.raw)
	}

	// An OIR attached to the explicit subscription keeps it from being
	// deleted; deleting the OIR does not delete the subscription.
	oid := newID()
	o := s.do("PUT", oirPath+oid, uss2, oirBody("Accepted", ext(51.5, -0.1, 300, 0, 100, at(1), at(2)), []string{}, "subscription_id", subID)).want(t, 201)
	ores := o.obj("operational_intent_reference")
	if ores["subscription_id"] != subID {
		t.Fatalf("attached OIR = %s", o.raw)
	}
	gs := s.do("GET", subPath+subID, uss2, nil).want(t, 200).obj("subscription")
	if deps, _ := gs["dependent_operational_intents"].([]any); len(deps) != 1 || deps[0] != oid {
		t.Fatalf("dependents = %v", gs["dependent_operational_intents"])
	}
	v := str(gs["version"])
	dssMessage(t, s.do("DELETE", subPath+subID+"/"+v, uss2, nil).want(t, 400))
	s.do("DELETE", oirPath+oid+"/"+str(ores["ovn"]), uss2, nil).want(t, 200)
	s.do("DELETE", subPath+subID+"/"+v, uss2, nil).want(t, 200)
	s.do("GET", subPath+subID, uss2, nil).want(t, 404)
}

// The InterUSS uss_qualifier scenario "implicit subscription handling"
// (dss/op_intent_ref_implicit_subscription_handling): an OIR made with
// new_subscription gets an implicit subscription that covers it, grows
// with it, and goes when nothing depends on it.
func TestDSSImplicitSubscription(t *testing.T) {
	s := startDSS(t)
	uss1 := s.tok("uss1", scSCD)
	newSub := map[string]any{"uss_base_url": "https://uss1.example/implicit"}
	id := newID()
	r := s.do("PUT", oirPath+id, uss1, oirBody("Accepted", ext(1, 1, 300, 0, 100, at(1), at(2)), nil, "new_subscription", newSub)).want(t, 201)
	ref := r.obj("operational_intent_reference")
	subID := str(ref["subscription_id"])
	// The implicit subscription is notified of its own OIR's creation.
	if jsonPath(r.body, "subscribers", 0, "subscriptions", 0, "subscription_id") != subID {
		t.Fatalf("subscribers = %s", r.raw)
	}
	sub := s.do("GET", subPath+subID, uss1, nil).want(t, 200).obj("subscription")
	if sub["implicit_subscription"] != true || sub["notify_for_operational_intents"] != true || sub["notify_for_constraints"] != false {
		t.Fatalf("implicit subscription = %v", sub)
	}
	// Extending the OIR in time extends its implicit subscription.
	ref = s.do("PUT", oirPath+id+"/"+str(ref["ovn"]), uss1, oirBody("Accepted", ext(1, 1, 300, 0, 100, at(1), at(5)), nil, "subscription_id", subID)).want(t, 200).obj("operational_intent_reference")
	sub = s.do("GET", subPath+subID, uss1, nil).want(t, 200).obj("subscription")
	if end, _ := time.Parse(time.RFC3339, str(jsonPath(sub, "time_end", "value"))); !end.Equal(at(5)) {
		t.Fatalf("implicit subscription ends %v, want %v", jsonPath(sub, "time_end", "value"), at(5))
	}
	// Moving the OIR to a new implicit subscription drops the old one.
	ref = s.do("PUT", oirPath+id+"/"+str(ref["ovn"]), uss1, oirBody("Accepted", ext(1, 1, 300, 0, 100, at(1), at(5)), nil, "new_subscription", newSub)).want(t, 200).obj("operational_intent_reference")
	if ref["subscription_id"] == subID {
		t.Fatal("a new implicit subscription was not made")
	}
	s.do("GET", subPath+subID, uss1, nil).want(t, 404)
	// An OIR without subscription (Accepted) drops its implicit one too.
	second := str(ref["subscription_id"])
	ref = s.do("PUT", oirPath+id+"/"+str(ref["ovn"]), uss1, oirBody("Accepted", ext(1, 1, 300, 0, 100, at(1), at(5)), nil)).want(t, 200).obj("operational_intent_reference")
	s.do("GET", subPath+second, uss1, nil).want(t, 404)
	if ref["subscription_id"] != "00000000-0000-4000-8000-000000000000" {
		t.Fatalf("subscription_id = %v", ref["subscription_id"])
	}
}

// The InterUSS uss_qualifier scenario "subscription validation"
// (dss/subscription_validation): limits on subscriptions.
func TestDSSSubscriptionValidation(t *testing.T) {
	s := startDSS(t)
	uss1 := s.tok("uss1", scSCD)
	ok := circle(30, 30, 1000, 0, 100, at(1), at(2))
	for name, body := range map[string]any{
		"over 24 hours":     subBody(circle(30, 30, 1000, 0, 100, at(1), at(26)), true, false),
		"ended":             subBody(circle(30, 30, 1000, 0, 100, at(-3), at(-2)), true, false),
		"notifies nothing":  subBody(ok, false, false),
		"no extents":        map[string]any{"uss_base_url": "https://x.example", "notify_for_operational_intents": true},
		"no footprint":      subBody(map[string]any{"time_start": ok["time_start"], "time_end": ok["time_end"]}, true, false),
		"huge area":         subBody(circle(30, 30, 1_500_000, 0, 100, at(1), at(2)), true, false),
		"not json":          "[",
		"wrong type":        map[string]any{"extents": "here", "uss_base_url": "https://x.example", "notify_for_operational_intents": true},
		"no base url":       map[string]any{"extents": ok, "notify_for_operational_intents": true},
		"start after end":   subBody(circle(30, 30, 1000, 0, 100, at(3), at(2)), true, false),
		"altitudes swapped": subBody(circle(30, 30, 1000, 100, 0, at(1), at(2)), true, false),
	} {
		r := s.do("PUT", subPath+newID(), uss1, body)
		if r.status != 400 {
			t.Errorf("%s: status %d, want 400: %s", name, r.status, r.raw)
			continue
		}
		dssMessage(t, r)
	}
	// notify_for_constraints needs utm.constraint_processing.
	s.do("PUT", subPath+newID(), uss1, subBody(ok, true, true)).want(t, 403)
	s.do("PUT", subPath+newID(), s.tok("uss1", scCP), subBody(ok, false, true)).want(t, 200)
	// A missing end is chosen by the DSS; unknown fields are ignored.
	body := subBody(map[string]any{"volume": ok["volume"]}, true, false)
	body["extra"] = 1
	r := s.do("PUT", subPath+newID(), uss1, body).want(t, 200)
	if jsonPath(r.body, "subscription", "time_end", "value") == nil {
		t.Fatalf("no end chosen: %s", r.raw)
	}
	// Versions: an update names the current one.
	id := newID()
	v1 := str(s.do("PUT", subPath+id, uss1, subBody(ok, true, false)).want(t, 200).obj("subscription")["version"])
	s.do("PUT", subPath+id, uss1, subBody(ok, true, false)).want(t, 409)
	s.do("PUT", subPath+id+"/wrong", uss1, subBody(ok, true, false)).want(t, 409)
	v2 := str(s.do("PUT", subPath+id+"/"+v1, uss1, subBody(ok, true, false)).want(t, 200).obj("subscription")["version"])
	if v2 == v1 {
		t.Fatal("the version did not change")
	}
	s.do("DELETE", subPath+id+"/"+v1, uss1, nil).want(t, 409)
	s.do("PUT", subPath+newID()+"/"+v1, uss1, subBody(ok, true, false)).want(t, 400)
	s.do("DELETE", subPath+id+"/"+v2, uss1, nil).want(t, 200)
}
