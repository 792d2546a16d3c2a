package main

import (
	"sync"
	"testing"
)

// The InterUSS uss_qualifier scenario "OIR simple" (dss/oir_simple):
// create, read, query, update and delete an operational intent reference,
// with stale OVNs refused.
func TestDSSOIRSimple(t *testing.T) {
	s := startDSS(t)
	uss1, uss2 := s.tok("uss1", scSCD), s.tok("uss2", scSCD)
	id := newID()
	area := ext(34.0, -118.0, 500, 0, 120, at(1), at(2))

	ref := s.createOIR(t, uss1, id, area, nil)
	if ref["version"] != 1.0 || ref["state"] != "Accepted" || ref["manager"] != "uss1" || ref["id"] != id {
		t.Fatalf("created reference = %v", ref)
	}
	ovn := str(ref["ovn"])
	if len(ovn) < 16 || ovn == "Available from USS" {
		t.Fatalf("the manager gets no OVN: %v", ref)
	}
	if ref["subscription_id"] != "00000000-0000-4000-8000-000000000000" {
		t.Fatalf("an Accepted OIR without a subscription shows %v", ref["subscription_id"])
	}

	got := s.do("GET", oirPath+id, uss1, nil).want(t, 200).obj("operational_intent_reference")
	if got["ovn"] != ovn {
		t.Fatalf("GET by the manager: ovn %v, want %s", got["ovn"], ovn)
	}
	other := s.do("GET", oirPath+id, uss2, nil).want(t, 200).obj("operational_intent_reference")
	if other["ovn"] != "Available from USS" {
		t.Fatalf("GET by another USS shows the OVN: %v", other["ovn"])
	}

	q := s.do("POST", oirPath+"query", uss2, map[string]any{"area_of_interest": circle(34.0, -118.0, 2000, 0, 1000, at(0), at(3))}).want(t, 200)
	if l := q.list("operational_intent_references"); len(l) != 1 || jsonPath(l, 0, "id") != id || jsonPath(l, 0, "ovn") != "Available from USS" {
		t.Fatalf("query over the OIR = %s", q.raw)
	}
	q = s.do("POST", oirPath+"query", uss2, map[string]any{"area_of_interest": circle(35.0, -118.0, 2000, 0, 1000, at(0), at(3))}).want(t, 200)
	if l := q.list("operational_intent_references"); len(l) != 0 {
		t.Fatalf("query elsewhere = %s", q.raw)
	}
	q = s.do("POST", oirPath+"query", uss2, map[string]any{"area_of_interest": circle(34.0, -118.0, 2000, 0, 1000, at(2.5), at(3))}).want(t, 200)
	if l := q.list("operational_intent_references"); len(l) != 0 {
		t.Fatalf("query at a later time = %s", q.raw)
	}

	up := s.do("PUT", oirPath+id+"/"+ovn, uss1, oirBody("Accepted", ext(34.0, -118.0, 800, 0, 120, at(1), at(2)), nil)).want(t, 200).obj("operational_intent_reference")
	if up["version"] != 2.0 || up["ovn"] == ovn {
		t.Fatalf("updated reference = %v", up)
	}
	s.do("PUT", oirPath+id+"/"+ovn, uss1, oirBody("Accepted", area, nil)).want(t, 409)
	s.do("PUT", oirPath+id, uss1, oirBody("Accepted", area, nil)).want(t, 409)
	s.do("DELETE", oirPath+id+"/"+ovn, uss1, nil).want(t, 409)
	del := s.do("DELETE", oirPath+id+"/"+str(up["ovn"]), uss1, nil).want(t, 200)
	if del.obj("operational_intent_reference")["id"] != id || del.body["subscribers"] == nil {
		t.Fatalf("delete answered %s", del.raw)
	}
	dssMessage(t, s.do("GET", oirPath+id, uss1, nil).want(t, 404))
	s.do("DELETE", oirPath+id+"/"+str(up["ovn"]), uss1, nil).want(t, 404)

	// Malformed requests are refused with a message and change nothing.
	for name, body := range map[string]any{
		"not json":         "{",
		"no extents":       map[string]any{"state": "Accepted", "uss_base_url": "https://uss.example"},
		"bad state":        oirBody("Flying", area, nil),
		"no base url":      map[string]any{"state": "Accepted", "extents": area},
		"past":             oirBody("Accepted", ext(34, -118, 500, 0, 120, at(-3), at(-2)), nil),
		"bad latitude":     oirBody("Accepted", ext(134, -118, 500, 0, 120, at(1), at(2)), nil),
		"upper below":      oirBody("Accepted", ext(34, -118, 500, 200, 100, at(1), at(2)), nil),
		"end before":       oirBody("Accepted", ext(34, -118, 500, 0, 100, at(2), at(1)), nil),
		"bad suffix":       oirBody("Accepted", area, nil, "requested_ovn_suffix", "nope"),
		"bad subscription": oirBody("Accepted", area, nil, "subscription_id", "x"),
	} {
		r := s.do("PUT", oirPath+newID(), uss1, body)
		if r.status != 400 {
			t.Errorf("%s: status %d, want 400: %s", name, r.status, r.raw)
			continue
		}
		dssMessage(t, r)
	}
	s.do("PUT", oirPath+"not-a-uuid", uss1, oirBody("Accepted", area, nil)).want(t, 400)
	// Over 2,500 km², as the InterUSS DSS limits it: 413, as utm.yaml has it.
	dssMessage(t, s.do("PUT", oirPath+newID(), uss1, oirBody("Accepted", ext(34, -118, 30_000, 0, 100, at(1), at(2)), nil)).want(t, 413))
	huge := polygon([][2]float64{{30, -110}, {30, -109}, {31, -109}, {31, -110}}, 0, 100, at(1), at(2))
	dssMessage(t, s.do("PUT", oirPath+newID(), uss1, oirBody("Accepted", []any{huge}, nil)).want(t, 413))
	s.do("POST", oirPath+"query", uss1, map[string]any{"area_of_interest": huge}).want(t, 413)
	if l := s.do("POST", oirPath+"query", uss1, map[string]any{"area_of_interest": circle(34.0, -118.0, 25000, -100, 1000, at(0), at(3))}).want(t, 200).list("operational_intent_references"); len(l) != 0 {
		t.Fatalf("refused requests left %d OIRs", len(l))
	}

	long := polygon([][2]float64{{36, -118}, {36, -117}, {36.01, -117}, {36.01, -118}}, 0, 100, at(1), at(2))
	s.createOIR(t, uss1, newID(), []any{long}, nil) // 92 km long, 1 km wide: under the limit

	// Fields utm.yaml does not declare are ignored.
	body := oirBody("Accepted", area, nil, "flight_type", "VLOS")
	body["extents"].([]any)[0].(map[string]any)["comment"] = "ignored"
	s.do("PUT", oirPath+newID(), uss1, body).want(t, 201)
}

// The requested_ovn_suffix extension: the OVN is {entityid}_{suffix}.
func TestDSSRequestedOVN(t *testing.T) {
	s := startDSS(t)
	uss1 := s.tok("uss1", scSCD)
	id := newID()
	suffix := uuidV7(t)
	ref := s.createOIR(t, uss1, id, ext(10, 10, 300, 0, 100, at(1), at(2)), nil, "requested_ovn_suffix", suffix)
	if ref["ovn"] != id+"_"+suffix {
		t.Fatalf("ovn %v, want %s_%s", ref["ovn"], id, suffix)
	}
}

// The InterUSS uss_qualifier scenario "OIR key validation"
// (dss/op_intent_ref_key_validation): a create or update must carry the
// OVN of every intersecting OIR, the caller's own too, but not the one it
// updates.
func TestDSSKeyValidation(t *testing.T) {
	s := startDSS(t)
	uss1, uss2 := s.tok("uss1", scSCD), s.tok("uss2", scSCD)
	area := ext(40.0, 20.0, 1000, 100, 200, at(1), at(2))

	a := newID()
	aRef := s.createOIR(t, uss1, a, area, nil)

	b := newID()
	r := s.do("PUT", oirPath+b, uss2, oirBody("Accepted", area, nil)).want(t, 409)
	missing, _ := r.body["missing_operational_intents"].([]any)
	if len(missing) != 1 || jsonPath(missing, 0, "id") != a || jsonPath(missing, 0, "ovn") != "Available from USS" {
		t.Fatalf("409 without the missing OIR: %s", r.raw)
	}
	dssMessage(t, r)
	bRef := s.createOIR(t, uss2, b, area, []string{str(aRef["ovn"])})

	// uss1 updating a needs b's OVN, but not a's own.
	r = s.do("PUT", oirPath+a+"/"+str(aRef["ovn"]), uss1, oirBody("Accepted", area, nil)).want(t, 409)
	if m, _ := r.body["missing_operational_intents"].([]any); len(m) != 1 || jsonPath(m, 0, "id") != b {
		t.Fatalf("update of a: %s", r.raw)
	}
	aRef = s.do("PUT", oirPath+a+"/"+str(aRef["ovn"]), uss1, oirBody("Accepted", area, []string{str(bRef["ovn"])})).want(t, 200).obj("operational_intent_reference")

	// A third OIR of uss1 must name uss1's own a as well; the answer
	// shows uss1 a's OVN, as it manages it.
	c := newID()
	r = s.do("PUT", oirPath+c, uss1, oirBody("Accepted", area, []string{str(bRef["ovn"])})).want(t, 409)
	if m, _ := r.body["missing_operational_intents"].([]any); len(m) != 1 || jsonPath(m, 0, "id") != a || jsonPath(m, 0, "ovn") != aRef["ovn"] {
		t.Fatalf("own OIR not required or OVN hidden from its manager: %s", r.raw)
	}
	// Stale OVNs do not count.
	s.do("PUT", oirPath+c, uss1, oirBody("Accepted", area, []string{str(bRef["ovn"]), "stale-ovn-0000000000"})).want(t, 409)

	// Volumes that do not intersect in 4D need no key: later in time,
	// above, or beside.
	s.createOIR(t, uss2, newID(), ext(40.0, 20.0, 1000, 100, 200, at(2), at(3)), nil)
	s.createOIR(t, uss2, newID(), ext(40.0, 20.0, 1000, 200.5, 300, at(1), at(2)), nil)
	s.createOIR(t, uss2, newID(), ext(40.0, 20.03, 1000, 100, 200, at(1), at(2)), nil)

	// Off-nominal OIRs need not be named by others.
	cmsa := s.tok("uss2", scSCD, scCMSA)
	sub := map[string]any{"uss_base_url": "https://uss2.example"}
	s.do("PUT", oirPath+b+"/"+str(bRef["ovn"]), cmsa, oirBody("Nonconforming", area, nil, "new_subscription", sub)).want(t, 200)
	s.createOIR(t, uss1, newID(), area, []string{str(aRef["ovn"])})
}

// Two USSs racing to create intersecting OIRs with empty keys: exactly
// one succeeds and the other is told about it.
func TestDSSRace(t *testing.T) {
	s := startDSS(t)
	tokens := []string{s.tok("uss1", scSCD), s.tok("uss2", scSCD)}
	for round := range 20 {
		area := ext(-30+float64(round), 150, 800, 0, 100, at(1), at(2))
		ids := []string{newID(), newID()}
		var wg sync.WaitGroup
		res := make([]response, 2)
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res[i] = s.do("PUT", oirPath+ids[i], tokens[i], oirBody("Accepted", area, nil))
			}()
		}
		wg.Wait()
		won := -1
		for i, r := range res {
			if r.status == 201 {
				if won >= 0 {
					t.Fatalf("round %d: both created intersecting OIRs with empty keys", round)
				}
				won = i
			} else if r.status != 409 {
				t.Fatalf("round %d: status %d: %s", round, r.status, r.raw)
			}
		}
		if won < 0 {
			t.Fatalf("round %d: neither was created", round)
		}
		lost := res[1-won]
		if m, _ := lost.body["missing_operational_intents"].([]any); len(m) != 1 || jsonPath(m, 0, "id") != ids[won] {
			t.Fatalf("round %d: the loser is not told about the winner: %s", round, lost.raw)
		}
	}
}
