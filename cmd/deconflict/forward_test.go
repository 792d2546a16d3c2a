package main

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestWriterLeaseMoves stops the writer replica (the one the others hand
// their declarations to) in the middle of a load spread over three
// replicas. It gives the lease up before it stops: the survivors write
// their own declarations meanwhile, answer every one 2xx, and then hand
// them to whichever of them took the lease. The conflicts stored are
// exactly those a brute-force comparison finds.
func TestWriterLeaseMoves(t *testing.T) {
	rs := startReplicas(t, 3)
	waitForwarding(t, rs)
	writer := -1
	for i, r := range rs {
		if r.metric("deconflict_forwarding") == 0 {
			writer = i
		}
	}
	var survivors []*testServer
	for i, r := range rs {
		if i != writer {
			survivors = append(survivors, r)
		}
	}
	parties := []string{"alpha", "bravo", "charlie"}
	tokens := map[string]string{}
	for _, p := range parties {
		tokens[p] = rs[0].token("operator", p)
	}
	obs := rs[0].token("observer", "alpha")

	rng := rand.New(rand.NewPCG(testSeed(t), 29))
	var (
		mu    sync.Mutex
		ops   = map[string]declared{}
		wg    sync.WaitGroup
		stop  atomic.Bool
		count atomic.Int64
	)
	for w := range 12 {
		wrng := rand.New(rand.NewPCG(rng.Uint64(), uint64(w)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := survivors[w%2]
			for !stop.Load() {
				id, p := newID(), parties[w%3]
				body := randomDeclaration(wrng)
				status, ok := r.tryPut(id, tokens[p], body)
				if !ok || status != 201 {
					t.Errorf("a survivor answered %d (reachable %v) while the writer lease moved", status, ok)
					return
				}
				mu.Lock()
				ops[id] = declared{p, body}
				mu.Unlock()
				count.Add(1)
			}
		}()
	}
	waitFor(t, 10*time.Second, "declarations handed over", func() bool { return count.Load() > 100 })
	rs[writer].stop()
	waitFor(t, 20*time.Second, "a survivor to take the writer lease and the other to hand it declarations", func() bool {
		return survivors[0].metric("deconflict_forwarding")+survivors[1].metric("deconflict_forwarding") == 1
	})
	before := count.Load()
	waitFor(t, 10*time.Second, "declarations handed to the new writer", func() bool { return count.Load() > before+100 })
	stop.Store(true)
	wg.Wait()

	want := bruteForce(t, ops)
	sameConflicts(t, want, storedPairs(t, survivors[0], obs))
	if len(want) < 20 {
		t.Errorf("only %d conflicts expected; the scenario is too sparse to test anything", len(want))
	}
	var here, answered float64
	for _, r := range survivors {
		here += r.metric(`deconflict_forwarded_declarations_total{outcome="written_here"}`)
		answered += r.metric(`deconflict_forwarded_declarations_total{outcome="answered"}`)
	}
	t.Logf("%d declarations on the survivors, %d conflicts, all found; %g handed over and answered, %g written where they arrived", len(ops), len(want), answered, here)
}
