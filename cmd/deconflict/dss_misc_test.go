package main

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const conPath = "/dss/v1/constraint_references/"

// The InterUSS uss_qualifier scenario "constraint reference simple"
// (dss/constraint_ref_simple), and the constraints an OIR's key must
// name when its subscription asks for them.
func TestDSSConstraintSimple(t *testing.T) {
	s := startDSS(t)
	cm, cp := s.tok("authority", scCM), s.tok("uss1", scSCD, scCP)
	area := ext(35.7, 139.7, 1000, 0, 500, at(1), at(3))
	id := newID()
	s.do("PUT", conPath+id, s.tok("uss1", scSCD), map[string]any{"extents": area, "uss_base_url": "https://a.example"}).want(t, 403)
	r := s.do("PUT", conPath+id, cm, map[string]any{"extents": area, "uss_base_url": "https://a.example"}).want(t, 201)
	ref := r.obj("constraint_reference")
	if ref["version"] != 1.0 || ref["manager"] != "authority" || len(str(ref["ovn"])) < 16 {
		t.Fatalf("constraint = %s", r.raw)
	}
	if got := s.do("GET", conPath+id, cp, nil).want(t, 200).obj("constraint_reference"); got["ovn"] != "Available from USS" {
		t.Fatalf("another USS sees the OVN: %v", got)
	}
	if l := s.do("POST", conPath+"query", cp, map[string]any{"area_of_interest": area[0]}).want(t, 200).list("constraint_references"); len(l) != 1 {
		t.Fatalf("query = %v", l)
	}

	// An OIR whose subscription notifies for constraints must name it.
	newSub := map[string]any{"uss_base_url": "https://uss1.example", "notify_for_constraints": true}
	oid := newID()
	c := s.do("PUT", oirPath+oid, cp, oirBody("Accepted", area, nil, "new_subscription", newSub)).want(t, 409)
	if m, _ := c.body["missing_constraints"].([]any); len(m) != 1 || jsonPath(m, 0, "id") != id {
		t.Fatalf("missing constraints = %s", c.raw)
	}
	// Without a subscription that asks for constraints, it need not.
	plain := s.createOIR(t, cp, newID(), area, nil)
	o := s.do("PUT", oirPath+oid, cp, oirBody("Accepted", area, []string{"x", "unrelated-ovn-000000"}, "new_subscription", newSub))
	if o.status != 409 {
		t.Fatalf("a wrong key was accepted: %s", o.raw)
	}
	created := s.createOIR(t, cp, oid, area, []string{str(ref["ovn"]), str(plain["ovn"])}, "new_subscription", newSub)
	// The implicit subscription notifies for constraints: a change of
	// the constraint names it.
	up := s.do("PUT", conPath+id+"/"+str(ref["ovn"]), cm, map[string]any{"extents": area, "uss_base_url": "https://a.example"}).want(t, 200)
	if jsonPath(up.body, "subscribers", 0, "subscriptions", 0, "subscription_id") != created["subscription_id"] {
		t.Fatalf("constraint update subscribers = %s", up.raw)
	}
	up2 := up.obj("constraint_reference")
	if up2["version"] != 2.0 || up2["ovn"] == ref["ovn"] {
		t.Fatalf("updated constraint = %v", up2)
	}
	s.do("DELETE", conPath+id+"/"+str(ref["ovn"]), cm, nil).want(t, 409)
	s.do("DELETE", conPath+id+"/"+str(up2["ovn"]), s.tok("other", scCM), nil).want(t, 403)
	s.do("DELETE", conPath+id+"/"+str(up2["ovn"]), cm, nil).want(t, 200)
	s.do("GET", conPath+id, cp, nil).want(t, 404)
}

// The InterUSS uss_qualifier scenario "USS availability" (dss/uss_availability).
func TestDSSUSSAvailability(t *testing.T) {
	s := startDSS(t)
	aa, scd := s.tok("arbiter", scAA), s.tok("uss1", scSCD)
	const p = "/dss/v1/uss_availability/uss1"
	r := s.do("GET", p, scd, nil).want(t, 200)
	if jsonPath(r.body, "status", "availability") != "Unknown" || jsonPath(r.body, "status", "uss") != "uss1" {
		t.Fatalf("initial availability = %s", r.raw)
	}
	s.do("PUT", p, scd, map[string]any{"old_version": "", "availability": "Down"}).want(t, 403)
	s.do("PUT", p, aa, map[string]any{"old_version": "", "availability": "Sleepy"}).want(t, 400)
	v := str(s.do("PUT", p, aa, map[string]any{"old_version": "", "availability": "Down"}).want(t, 200).body["version"])
	s.do("PUT", p, aa, map[string]any{"old_version": "", "availability": "Normal"}).want(t, 409)
	if got := s.do("GET", p, aa, nil).want(t, 200); jsonPath(got.body, "status", "availability") != "Down" || got.body["version"] != v {
		t.Fatalf("availability = %s", got.raw)
	}
	// A USS marked Down may not plan (utm.yaml: 412); others see it
	// Down on its intents.
	dssMessage(t, s.do("PUT", oirPath+newID(), scd, oirBody("Accepted", ext(5, 5, 100, 0, 10, at(1), at(2)), nil)).want(t, 412))
	s.do("PUT", p, aa, map[string]any{"old_version": v, "availability": "Normal"}).want(t, 200)
	ref := s.createOIR(t, scd, newID(), ext(5, 5, 100, 0, 10, at(1), at(2)), nil)
	v = str(s.do("GET", p, aa, nil).want(t, 200).body["version"])
	v = str(s.do("PUT", p, aa, map[string]any{"old_version": v, "availability": "Down"}).want(t, 200).body["version"])
	if got := s.do("GET", oirPath+str(ref["id"]), s.tok("uss2", scSCD), nil).want(t, 200).obj("operational_intent_reference"); got["uss_availability"] != "Down" {
		t.Fatalf("uss_availability = %v", got["uss_availability"])
	}
	dssMessage(t, s.do("DELETE", oirPath+str(ref["id"])+"/"+str(ref["ovn"]), scd, nil).want(t, 412))
	s.do("PUT", p, aa, map[string]any{"old_version": v, "availability": "Normal"}).want(t, 200)
	s.do("DELETE", oirPath+str(ref["id"])+"/"+str(ref["ovn"]), scd, nil).want(t, 200)

	// Reports are kept and answered with an ID.
	rep := map[string]any{"exchange": map[string]any{"url": "https://uss2.example/x", "method": "GET", "recorder_role": "Client",
		"request_time": map[string]any{"value": time.Now().UTC().Format(time.RFC3339), "format": "RFC3339"}}}
	rr := s.do("POST", "/dss/v1/reports", scd, rep).want(t, 201)
	if str(rr.body["report_id"]) == "" || jsonPath(rr.body, "exchange", "url") != "https://uss2.example/x" {
		t.Fatalf("report = %s", rr.raw)
	}
	s.do("POST", "/dss/v1/reports", scd, map[string]any{}).want(t, 400)
}

// The InterUSS uss_qualifier scenario "authentication validation"
// (dss/authentication/authentication_validation): every DSS endpoint
// refuses missing and bad tokens with 401 and missing scopes with 403,
// each with an ErrorResponse.
func TestDSSAuthentication(t *testing.T) {
	s := startDSS(t)
	now := time.Now()
	base := func() jwt.MapClaims {
		return jwt.MapClaims{"iss": "a", "sub": "uss1", "aud": "localhost", "exp": now.Add(time.Hour).Unix(), "scope": scSCD}
	}
	with := func(k string, v any) string {
		c := base()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return s.sign(c)
	}
	other := startDSSOnKeyOnly(t)
	bad := map[string]string{
		"none":            "",
		"garbage":         "not.a.jwt",
		"expired":         with("exp", now.Add(-time.Hour).Unix()),
		"no exp":          with("exp", nil),
		"exp too far":     with("exp", now.Add(2*time.Hour).Unix()),
		"no iss":          with("iss", nil),
		"no sub":          with("sub", nil),
		"wrong audience":  with("aud", "dss.elsewhere.example"),
		"other key":       other.sign(base()),
		"HS256":           hs256(t, base()),
		"unsigned (none)": noneAlg(t, base()),
	}
	s.wantTokensRefused(t, bad)
	area := map[string]any{"area_of_interest": circle(1, 1, 100, 0, 10, at(1), at(2))}
	// Exactly an hour ahead is what clients issue: accepted.
	s.do("POST", oirPath+"query", with("exp", now.Add(time.Hour).Unix()), area).want(t, 200)
	// A list audience holding ours, and a scope list, are accepted.
	s.do("POST", oirPath+"query", with("aud", []string{"x", "localhost"}), area).want(t, 200)
	// Scopes: each endpoint needs its own.
	cm := s.tok("uss1", scCM)
	for _, c := range []struct{ method, path string }{
		{"POST", oirPath + "query"}, {"GET", oirPath + newID()}, {"PUT", oirPath + newID()},
		{"POST", subPath + "query"}, {"GET", "/dss/v1/uss_availability/x"}, {"PUT", "/dss/v1/uss_availability/x"},
	} {
		dssMessage(t, s.do(c.method, c.path, cm, area).want(t, 403))
	}
	dssMessage(t, s.do("PUT", conPath+newID(), s.tok("uss1", scSCD), area).want(t, 403))
	// Unknown DSS paths answer 404.
	s.do("GET", "/dss/v1/nothing", s.tok("uss1", scSCD), nil).want(t, 404)
}

// Without --dss-keys nothing is served under /dss/.
func TestDSSDisabled(t *testing.T) {
	s := startServer(t)
	if r := s.do("POST", oirPath+"query", "x", map[string]any{}); r.status != 404 {
		t.Fatalf("status %d without --dss-keys, want 404", r.status)
	}
}
