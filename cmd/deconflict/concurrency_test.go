package main

import (
	"encoding/json"
	"flag"
	"math/rand/v2"
	"net/url"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/geo"
)

var seedFlag = flag.Uint64("seed", 0, "seed for randomised tests (0: from the clock)")

func testSeed(t *testing.T) uint64 {
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -seed %d)", seed, seed)
	return seed
}

// randomDeclaration returns a declaration in a small box, so that many
// declarations conflict with one another.
func randomDeclaration(rng *rand.Rand) map[string]any {
	lat, lng := 33+rng.Float64()*0.8, 36+rng.Float64()*0.8
	lower := float64(rng.IntN(8)) * 1000
	start := at(1 + rng.Float64()*6)
	end := start.Add(time.Duration(10+rng.IntN(120)) * time.Minute)
	if rng.IntN(2) == 0 {
		return decl("planned", circle(lat, lng, 1000+rng.Float64()*5000, lower, lower+500+rng.Float64()*1500, start, end))
	}
	d := 0.02 + rng.Float64()*0.05
	return decl("planned", polygon([][2]float64{{lat, lng}, {lat + d, lng}, {lat + d/2, lng + d/3}, {lat + d, lng + d}, {lat, lng + d}},
		lower, lower+500+rng.Float64()*1500, start, end))
}

// TestConcurrentDeclarations fires many conflicting declarations of two
// parties at once, then moves and cancels many of them at once, and
// checks each time that the conflicts found are exactly the pairs a
// brute-force comparison finds: none lost, none invented.
func TestConcurrentDeclarations(t *testing.T) {
	concurrentDeclarations(t, []*testServer{startServer(t)})
}

// TestConcurrentDeclarationsReplicas is TestConcurrentDeclarations with
// the requests spread over three replicas on one PostgreSQL database: two
// of them hand their declarations to the third, the writer, and write
// their cancellations themselves, under the same lock.
func TestConcurrentDeclarationsReplicas(t *testing.T) {
	rs := startReplicas(t, 3)
	waitForwarding(t, rs)
	concurrentDeclarations(t, rs)
	forwarded, unanswered := forwardedDeclarations(t, rs)
	if forwarded == 0 || unanswered != 0 {
		t.Errorf("%g declarations handed to the writer replica and answered, %g unanswered; want some, and none", forwarded, unanswered)
	}
}

// concurrentDeclarations runs the scenario of TestConcurrentDeclarations,
// each request sent to one of servers in turn (replicas of one store).
func concurrentDeclarations(t *testing.T, servers []*testServer) {
	rng := rand.New(rand.NewPCG(testSeed(t), 7))
	s := servers[0]
	tokens := map[string]string{"alpha": s.token("operator", "alpha"), "bravo": s.token("operator", "bravo")}
	obs := s.token("observer", "charlie")
	var turn atomic.Int64
	next := func() *testServer { return servers[int(turn.Add(1))%len(servers)] }

	const perParty = 60
	ops := map[string]declared{}
	var order []string
	for _, p := range []string{"alpha", "bravo"} {
		for i := 0; i < perParty; i++ {
			id := newID()
			ops[id] = declared{p, randomDeclaration(rng)}
			order = append(order, id)
		}
	}
	rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })

	// Each worker runs one request at a time; the jobs of a wave name
	// distinct operations, so their order within it does not matter.
	run := func(jobs []func()) {
		var wg sync.WaitGroup
		work := make(chan func())
		for w := 0; w < 16; w++ {
			wg.Go(func() {
				for job := range work {
					job()
				}
			})
		}
		for _, job := range jobs {
			work <- job
		}
		close(work)
		wg.Wait()
	}
	var jobs []func()
	for _, id := range order {
		d := ops[id]
		jobs = append(jobs, func() { next().do("PUT", "/v1/operations/"+id, tokens[d.party], d.body).want(t, 201) })
	}
	run(jobs)
	want := bruteForce(t, ops)
	got := storedPairs(t, s, obs)
	sameConflicts(t, want, got)
	if len(want) < 10 {
		t.Errorf("only %d conflicts expected; the scenario is too sparse to test anything", len(want))
	}
	t.Logf("%d declarations, %d conflicts, all found", len(ops), len(want))

	// A second wave moves half of the operations and cancels a quarter,
	// all at once: the conflicts of what moved away resolve, of what
	// moved in open, of what was cancelled resolve.
	jobs = nil
	var nMoved, cancelled int
	for _, id := range order {
		d := ops[id]
		switch rng.IntN(4) {
		case 0, 1:
			moved := declared{d.party, randomDeclaration(rng)}
			ops[id] = moved
			nMoved++
			jobs = append(jobs, func() {
				next().do("PUT", "/v1/operations/"+id, tokens[d.party], moved.body, "If-Match", `"1"`).want(t, 200)
			})
		case 2:
			delete(ops, id)
			cancelled++
			jobs = append(jobs, func() { next().do("DELETE", "/v1/operations/"+id, tokens[d.party], nil).want(t, 200) })
		}
	}
	run(jobs)
	want = bruteForce(t, ops)
	sameConflicts(t, want, storedPairs(t, s, obs))
	t.Logf("%d moved, %d cancelled: %d conflicts, all found", nMoved, cancelled, len(want))

	// Most checks were searched ahead of the write lock and brought up
	// to date under it: the path the answers above went through.
	var ahead, inBatch float64
	for _, s := range servers {
		ahead += s.metric(`deconflict_conflict_checks_total{searched="ahead"}`)
		inBatch += s.metric(`deconflict_conflict_checks_total{searched="in_batch"}`)
	}
	t.Logf("conflict checks searched ahead %g, in the batch %g", ahead, inBatch)
	// (A store may run a batch again after a failed attempt: at least one
	// check per declaration.)
	if total := len(order) + nMoved; ahead+inBatch < float64(total) || ahead < float64(total)/2 {
		t.Errorf("%g of %g checks searched ahead of the write lock, of %d declarations; want most", ahead, ahead+inBatch, total)
	}
}

// declared is a declaration and the party that made it.
type declared struct {
	party string
	body  map[string]any
}

// bruteForce returns the pairs of operations of different parties that
// conflict under the default minima, comparing every pair.
func bruteForce(t *testing.T, ops map[string]declared) map[[2]string]bool {
	t.Helper()
	parsed := map[string][]geo.Volume{}
	for id, d := range ops {
		raw, _ := json.Marshal(d.body["volumes"])
		var vols []dc.Volume4D
		if err := json.Unmarshal(raw, &vols); err != nil {
			t.Fatal(err)
		}
		pv, err := geo.ParseVolumes(vols, "volumes")
		if err != nil {
			t.Fatal(err)
		}
		parsed[id] = pv
	}
	minima := geo.Minima{HorizontalM: 9260, VerticalM: 304.8, TimeS: 300}
	want := map[[2]string]bool{}
	for a, da := range ops {
		for b, db := range ops {
			if a < b && da.party != db.party {
				if _, ok := geo.CompareOperations(parsed[a], parsed[b], minima); ok {
					want[[2]string{a, b}] = true
				}
			}
		}
	}
	return want
}

// storedPairs returns the pairs of operations of the open conflicts the
// server has, failing on a pair stored twice.
func storedPairs(t *testing.T, s *testServer, observer string) map[[2]string]bool {
	t.Helper()
	got := map[[2]string]bool{}
	for _, c := range allConflicts(t, s, observer, "status=open") {
		pair := jsonPath(c, "operations").([]any)
		k := []string{pair[0].(string), pair[1].(string)}
		sort.Strings(k)
		key := [2]string{k[0], k[1]}
		if got[key] {
			t.Errorf("pair %v has two conflicts", key)
		}
		got[key] = true
	}
	return got
}

// sameConflicts fails for every pair missed or invented.
func sameConflicts(t *testing.T, want, got map[[2]string]bool) {
	t.Helper()
	for k := range want {
		if !got[k] {
			t.Errorf("missed conflict %v", k)
		}
	}
	for k := range got {
		if !want[k] {
			t.Errorf("invented conflict %v", k)
		}
	}
}

// allConflicts returns every conflict listed by GET /v1/conflicts?query,
// following "next" from page to page: a page ends at its limit or once it
// passes 4 MiB (contract 2.2), so one page is not the whole list.
func allConflicts(t *testing.T, s *testServer, token, query string) []any {
	t.Helper()
	var all []any
	after := ""
	for {
		page := s.do("GET", "/v1/conflicts?limit=1000&"+query+"&after="+url.QueryEscape(after), token, nil).want(t, 200)
		all = append(all, page.list("conflicts")...)
		next, _ := page.body["next"].(string)
		if next == "" {
			return all
		}
		after = next
	}
}
