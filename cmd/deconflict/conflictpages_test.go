package main

import (
	"sync"
	"testing"
)

// More conflicts than one 4 MiB page holds: GET /v1/conflicts ends its
// first page early, with a next cursor, and following next lists every
// conflict brute force finds, each once. A check that read only the first
// page would report thousands of conflicts as missed.
func TestConflictsListedPastOnePage(t *testing.T) {
	s := startServer(t)
	tokens := map[string]string{"alpha": s.token("operator", "alpha"), "bravo": s.token("operator", "bravo")}
	obs := s.token("observer", "charlie")

	// Every operation of alpha conflicts with every one of bravo:
	// perParty² conflicts, past 4 MiB of JSON.
	const perParty = 100
	ops := map[string]declared{}
	for _, p := range []string{"alpha", "bravo"} {
		for i := range perParty {
			ops[newID()] = declared{p, decl("planned", circle(10, 20+float64(i)*1e-4, 2000, 0, 500, at(1), at(2)))}
		}
	}
	var wg sync.WaitGroup
	work := make(chan string)
	for range 8 {
		wg.Go(func() {
			for id := range work {
				s.do("PUT", "/v1/operations/"+id, tokens[ops[id].party], ops[id].body).want(t, 201)
			}
		})
	}
	for id := range ops {
		work <- id
	}
	close(work)
	wg.Wait()

	first := s.do("GET", "/v1/conflicts?status=open&limit=10000", obs, nil).want(t, 200)
	if next, _ := first.body["next"].(string); next == "" || len(first.list("conflicts")) >= perParty*perParty {
		t.Fatalf("the first page holds %d of %d conflicts in %d bytes and next %q: want it to end early, at 4 MiB",
			len(first.list("conflicts")), perParty*perParty, len(first.raw), next)
	}
	want := bruteForce(t, ops)
	if len(want) != perParty*perParty {
		t.Fatalf("brute force finds %d conflicts, want %d", len(want), perParty*perParty)
	}
	sameConflicts(t, want, storedPairs(t, s, obs))
}
