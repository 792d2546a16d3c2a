package main

import (
	"testing"
)

// TestCheckAnswerShapes checks POST /v1/check as a caller sees it: the
// operation as another party sees it, ?fields=id, a bad fields value, and
// answers that follow a replace and a cancel at once.
func TestCheckAnswerShapes(t *testing.T) {
	s := startServer(t)
	opA, opB := s.token("operator", "alpha"), s.token("operator", "bravo")
	id := newID()
	body := decl("planned", circle(10, 10, 2000, 0, 1000, at(1), at(2)))
	body["notes"], body["callsign"] = "alpha's private notes", "ALPHA1"
	s.do("PUT", "/v1/operations/"+id, opA, body).want(t, 201)
	check := map[string]any{"volumes": []any{circle(10, 10.01, 1000, 0, 1000, at(1), at(2))}}

	for range 2 { // the second answer comes from memory
		got := s.do("POST", "/v1/check", opB, check).want(t, 200)
		if n := len(got.list("conflicts")); n != 1 {
			t.Fatalf("%d conflicts, want 1: %s", n, got.raw)
		}
		op, _ := jsonPath(got.body, "conflicts", 0, "operation").(map[string]any)
		if op["id"] != id || op["version"] != 1.0 || op["callsign"] != nil || op["notes"] != nil || op["volumes"] == nil {
			t.Fatalf("operation as bravo sees it: %s", got.raw)
		}
		if _, ok := op["callsign"]; !ok {
			t.Fatalf("the unshared callsign should be null, not absent: %s", got.raw)
		}
	}
	ids := s.do("POST", "/v1/check?fields=id", opB, check).want(t, 200)
	hit, _ := jsonPath(ids.body, "conflicts", 0).(map[string]any)
	if len(hit) != 2 || hit["id"] != id || hit["separation"] == nil {
		t.Fatalf("?fields=id: %s", ids.raw)
	}
	s.do("POST", "/v1/check?fields=volumes", opB, check).want(t, 400, "invalid_argument", "fields")

	body["share_callsign"] = true
	s.do("PUT", "/v1/operations/"+id, opA, body, "If-Match", `"1"`).want(t, 200)
	got := s.do("POST", "/v1/check", opB, check).want(t, 200)
	if v := jsonPath(got.body, "conflicts", 0, "operation", "version"); v != 2.0 {
		t.Fatalf("after the replace, version %v: %s", v, got.raw)
	}
	if c := jsonPath(got.body, "conflicts", 0, "operation", "callsign"); c != "ALPHA1" {
		t.Fatalf("after sharing the callsign, callsign %v: %s", c, got.raw)
	}
	s.do("DELETE", "/v1/operations/"+id, opA, nil).want(t, 200)
	if n := len(s.do("POST", "/v1/check", opB, check).want(t, 200).list("conflicts")); n != 0 {
		t.Fatalf("after the cancel, %d conflicts", n)
	}
}
