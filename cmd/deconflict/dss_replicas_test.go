package main

import (
	"sync"
	"testing"
)

// Two servers on one store: each decides against what the other
// committed, and reads what the other wrote.
func TestDSSReplicas(t *testing.T) {
	url := testStore(t)
	r1 := startDSSOn(t, url, nil)
	r2 := startDSSOn(t, url, r1.key)
	area := ext(45, 7, 600, 0, 100, at(1), at(2))

	subID := newID()
	r2.do("PUT", subPath+subID, r2.tok("uss2", scSCD), subBody(area[0], true, false)).want(t, 200)
	a := newID()
	cr := r1.do("PUT", oirPath+a, r1.tok("uss1", scSCD), oirBody("Accepted", area, nil)).want(t, 201)
	if jsonPath(cr.body, "subscribers", 0, "subscriptions", 0, "subscription_id") != subID {
		t.Fatalf("replica 1 does not know replica 2's subscription: %s", cr.raw)
	}
	ref := cr.obj("operational_intent_reference")
	if got := r2.do("GET", oirPath+a, r2.tok("uss1", scSCD), nil).want(t, 200).obj("operational_intent_reference"); got["ovn"] != ref["ovn"] {
		t.Fatalf("replica 2 reads %v, replica 1 wrote %v", got, ref)
	}
	m := r2.do("PUT", oirPath+newID(), r2.tok("uss2", scSCD), oirBody("Accepted", area, nil)).want(t, 409)
	if l, _ := m.body["missing_operational_intents"].([]any); len(l) != 1 || jsonPath(l, 0, "id") != a {
		t.Fatalf("replica 2 decided without replica 1's OIR: %s", m.raw)
	}
	if sub := r2.do("GET", subPath+subID, r2.tok("uss2", scSCD), nil).want(t, 200).obj("subscription"); sub["notification_index"] != 1.0 {
		t.Fatalf("notification index on replica 2 = %v", sub["notification_index"])
	}
	// A delete on one replica is seen on the other.
	r2.do("DELETE", oirPath+a+"/"+str(ref["ovn"]), r2.tok("uss1", scSCD), nil).want(t, 200)
	r1.do("GET", oirPath+a, r1.tok("uss1", scSCD), nil).want(t, 404)

	// Racing across replicas: one wins, the other is told.
	for round := range 10 {
		area := ext(-40+float64(round), -60, 800, 0, 100, at(1), at(2))
		ids := []string{newID(), newID()}
		servers := []*dssServer{r1, r2}
		res := make([]response, 2)
		var wg sync.WaitGroup
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res[i] = servers[i].do("PUT", oirPath+ids[i], servers[i].tok([]string{"uss1", "uss2"}[i], scSCD), oirBody("Accepted", area, nil))
			}()
		}
		wg.Wait()
		if (res[0].status == 201) == (res[1].status == 201) {
			t.Fatalf("round %d: statuses %d and %d: %s %s", round, res[0].status, res[1].status, res[0].raw, res[1].raw)
		}
		won := 0
		if res[1].status == 201 {
			won = 1
		}
		if l, _ := res[1-won].body["missing_operational_intents"].([]any); res[1-won].status != 409 || len(l) != 1 || jsonPath(l, 0, "id") != ids[won] {
			t.Fatalf("round %d: the loser is not told about the winner: %s", round, res[1-won].raw)
		}
	}
}
