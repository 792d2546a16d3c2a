package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/deconflict/deconflict/internal/pgtest"
)

// startReplicas starts n servers on one fresh PostgreSQL database with
// parties alpha, bravo and charlie.
func startReplicas(t testing.TB, n int) []*testServer {
	t.Helper()
	store := pgtest.Database(t)
	admin := &testServer{t: t, store: store}
	for _, p := range []string{"alpha", "bravo", "charlie"} {
		admin.mustRun("party", "add", p)
	}
	var rs []*testServer
	for range n {
		r := &testServer{t: t, store: store}
		r.start()
		rs = append(rs, r)
	}
	return rs
}

// waitForwarding waits until all replicas but one hand their declarations
// to the writer replica.
func waitForwarding(t *testing.T, rs []*testServer) {
	t.Helper()
	waitFor(t, 20*time.Second, "all replicas but one to hand their declarations to the writer", func() bool {
		n := 0
		for _, r := range rs {
			n += int(r.metric("deconflict_forwarding"))
		}
		return n == len(rs)-1
	})
}

// forwardedDeclarations returns how many declarations the replicas handed
// to the writer and got an answer for, and how many got none.
func forwardedDeclarations(t *testing.T, rs []*testServer) (answered, unanswered float64) {
	t.Helper()
	for _, r := range rs {
		answered += r.metric(`deconflict_forwarded_declarations_total{outcome="answered"}`)
		unanswered += r.metric(`deconflict_forwarded_declarations_total{outcome="unanswered"}`)
	}
	return answered, unanswered
}

// TestReplicasFindEveryConflict spreads many conflicting declarations of
// three parties over three replicas at once and checks that the conflicts
// stored are exactly those a brute-force comparison finds, and that a
// stream on one replica hears a declaration made on another.
func TestReplicasFindEveryConflict(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 21))
	rs := startReplicas(t, 3)
	parties := []string{"alpha", "bravo", "charlie"}
	tokens := map[string]string{}
	for _, p := range parties {
		tokens[p] = rs[0].token("operator", p)
	}
	obs := rs[0].token("observer", "alpha")
	waitForwarding(t, rs)

	// Across replicas, live.
	ch, _ := rs[0].streamEvents(t, rs[0].token("liaison", "charlie"), 0)
	sent := time.Now()
	rs[2].do("PUT", "/v1/operations/"+newID(), tokens["alpha"], decl("planned", circle(-40, 170, 1000, 0, 100, at(3), at(4)))).want(t, 201)
	next(t, ch, "operation.declared", 10*time.Second)
	t.Logf("replica 3 → stream on replica 1 in %s", time.Since(sent).Round(time.Millisecond))

	const perParty = 60
	ops := map[string]declared{}
	var jobs []string
	for _, p := range parties {
		for range perParty {
			id := newID()
			ops[id] = declared{p, randomDeclaration(rng)}
			jobs = append(jobs, id)
		}
	}
	rng.Shuffle(len(jobs), func(i, j int) { jobs[i], jobs[j] = jobs[j], jobs[i] })
	var wg sync.WaitGroup
	work := make(chan int)
	for range 24 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				id := jobs[i]
				rs[i%len(rs)].do("PUT", "/v1/operations/"+id, tokens[ops[id].party], ops[id].body).want(t, 201)
			}
		}()
	}
	for i := range jobs {
		work <- i
	}
	close(work)
	wg.Wait()

	if answered, unanswered := forwardedDeclarations(t, rs); answered == 0 || unanswered != 0 {
		t.Errorf("%g declarations handed to the writer replica and answered, %g unanswered; want some, and none", answered, unanswered)
	}
	want := bruteForce(t, ops)
	for i, r := range rs {
		got := storedPairs(t, r, obs)
		sameConflicts(t, want, got)
		if t.Failed() {
			t.Fatalf("replica %d disagrees with brute force", i+1)
		}
	}
	if len(want) < 20 {
		t.Errorf("only %d conflicts expected; the scenario is too sparse to test anything", len(want))
	}
	// A what-if on one replica sees operations declared on the others: a
	// copy of each of a few operations conflicts at least with it.
	checked := 0
	for i, id := range jobs {
		if ops[id].party != "alpha" || i%3 == 1 {
			continue
		}
		hits := rs[1].do("POST", "/v1/check", tokens["bravo"], map[string]any{"volumes": ops[id].body["volumes"]}).want(t, 200).list("conflicts")
		if len(hits) == 0 {
			t.Errorf("a what-if on replica 2 does not see operation %s declared on replica %d", id, i%3+1)
		}
		if checked++; checked == 5 {
			break
		}
	}
	if checked < 5 {
		t.Errorf("only %d operations checked across replicas; the scenario proves too little", checked)
	}
	t.Logf("%d declarations over 3 replicas, %d conflicts, all found by each", len(ops), len(want))
}

// TestReplicasDeliverAndEscalateOnce runs three replicas and checks that
// each webhook delivery happens once, not once per replica, and that the
// escalation timers all replicas run raise each level once.
func TestReplicasDeliverAndEscalateOnce(t *testing.T) {
	rs := startReplicas(t, 3)
	admin, opA, headB := rs[0].token("admin", ""), rs[0].token("operator", "alpha"), rs[0].token("head", "bravo")
	rc := &receiver{t: t}
	rc.listen("127.0.0.1:0")
	r := rs[1].do("PUT", "/v1/webhooks/ops", headB, map[string]any{"url": "http://" + rc.addr + "/hook", "events": []string{"operation.declared"}}).want(t, 201)
	rc.mu.Lock()
	rc.secret = r.body["secret"].(string)
	rc.mu.Unlock()
	rs[2].do("PUT", "/v1/settings", admin, map[string]any{"ack_timeout_s": 1}).want(t, 200)

	const n = 30
	for i := range n {
		rs[i%3].do("PUT", "/v1/operations/"+newID(), opA, decl("planned", circle(float64(i), 5, 1000, 0, 100, at(30), at(31)))).want(t, 201)
	}
	waitFor(t, 10*time.Second, "every declaration delivered", func() bool { return len(rc.types()) >= n })
	// Nobody owed a receipt answers: bravo and charlie each owe n; each
	// duty goes to level 1, then level 2, once.
	raised := func() int {
		c := 0
		for _, e := range rs[0].do("GET", "/v1/events?after=0&limit=10000", admin, nil).want(t, 200).list("events") {
			if e.(map[string]any)["type"] == "escalation.raised" {
				c++
			}
		}
		return c
	}
	waitFor(t, 15*time.Second, "every duty at level 2", func() bool { return raised() >= 4*n })
	time.Sleep(2500 * time.Millisecond) // more timer ticks on every replica
	if got := raised(); got != 4*n {
		t.Errorf("%d escalation.raised events for %d duties at two levels, want %d", got, 2*n, 4*n)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	seen := map[string]int{}
	for _, d := range rc.got {
		seen[d.id]++
	}
	for id, c := range seen {
		if c > 1 {
			t.Errorf("webhook %s delivered %d times", id, c)
		}
	}
	if len(seen) != n {
		t.Errorf("%d distinct deliveries, want %d", len(seen), n)
	}
}

// TestReplicaKilledMidLoad kills one of three replicas (separate
// processes) with SIGKILL in the middle of a load spread over all three:
// nothing acknowledged is lost, the conflicts stored are exactly those of
// the operations stored, a stream on a surviving replica goes on, and
// webhook delivery, which the killed replica was doing, moves to a
// survivor.
func TestReplicaKilledMidLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	store := pgtest.Database(t)
	s := &testServer{t: t, store: store}
	for _, p := range []string{"alpha", "bravo"} {
		s.mustRun("party", "add", p)
	}
	tokens := []string{s.token("operator", "alpha"), s.token("operator", "bravo")}
	obs, headB := s.token("observer", "alpha"), s.token("head", "bravo")
	bin := buildBinary(t)
	var (
		procs []*exec.Cmd
		bases []string
		logs  []*syncBuffer
	)
	for range 3 {
		cmd, base, log := startBinary(t, bin, store)
		procs, bases, logs = append(procs, cmd), append(bases, base), append(logs, log)
	}
	// The replica that writes the declarations the others hand over is
	// the one to kill: their hand-overs under way lose their answers, and
	// the writer lease must move to a survivor. It most often delivers
	// webhooks too (the first replica up takes both leases), and then
	// delivery must move as well. Put it last, so the others are 0 and 1.
	victim := -1
	waitFor(t, 10*time.Second, "a replica to take the writer lease, and the others to know it", func() bool {
		forwarding := 0
		for i, l := range logs {
			if strings.Contains(l.String(), "this replica writes the declarations the others hand over") {
				victim = i
			}
			if strings.Contains(l.String(), `"msg":"writer replica"`) {
				forwarding++
			}
		}
		return victim >= 0 && forwarding == 3
	})
	webhooks := strings.Contains(logs[victim].String(), `"lease taken: this process does the work","lease":"webhooks"`)
	procs[victim], procs[2] = procs[2], procs[victim]
	bases[victim], bases[2] = bases[2], bases[victim]
	s.base = bases[0]
	rc := &receiver{t: t}
	rc.listen("127.0.0.1:0")
	r := s.do("PUT", "/v1/webhooks/all", headB, map[string]any{"url": "http://" + rc.addr + "/hook", "events": []string{"operation.declared"}}).want(t, 201)
	rc.mu.Lock()
	rc.secret = r.body["secret"].(string)
	rc.mu.Unlock()
	ch, _ := s.streamEvents(t, obs, 0)

	rng := rand.New(rand.NewPCG(testSeed(t), 23))
	var (
		mu    sync.Mutex
		acked = map[string]bool{}
		wg    sync.WaitGroup
	)
	var retried atomic.Int64
	deadline := time.Now().Add(4 * time.Second)
	for w := range 12 {
		wg.Add(1)
		wrng := rand.New(rand.NewPCG(rng.Uint64(), uint64(w)))
		go func() {
			defer wg.Done()
			c := &testServer{t: t, base: bases[w%3]}
			for time.Now().Before(deadline) {
				id, body := newID(), randomDeclaration(wrng)
				// A survivor whose hand-over to the killed writer got
				// no answer says 503 with Retry-After: the same PUT
				// again is then answered 201, or 200 if the writer had
				// written it before it died.
				for try := 0; ; try++ {
					status, retry, ok := putWithRetryAfter(c, id, tokens[w%2], body)
					if !ok {
						if w%3 == 2 {
							return // its replica is gone
						}
						t.Errorf("replica %d unreachable", w%3+1)
						return
					}
					if status/100 == 2 {
						mu.Lock()
						acked[id] = true
						mu.Unlock()
						break
					}
					if w%3 == 2 {
						break
					}
					if status != 503 || retry == "" || try == 20 {
						t.Errorf("replica %d answered %d (Retry-After %q) on try %d", w%3+1, status, retry, try+1)
						return
					}
					retried.Add(1)
					time.Sleep(100 * time.Millisecond)
				}
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	if err := procs[2].Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killedAt := time.Since(deadline.Add(-4 * time.Second))
	wg.Wait()
	if len(acked) == 0 {
		t.Fatal("nothing was acknowledged")
	}

	// The stream on replica 1 goes on: it hears declarations made after
	// the kill on replica 2.
	after := &testServer{t: t, base: bases[1]}
	id := newID()
	after.do("PUT", "/v1/operations/"+id, tokens[0], decl("planned", circle(-60, -60, 1000, 0, 100, at(3), at(4)))).want(t, 201)
	for {
		ev := next(t, ch, "operation.declared", 5*time.Second)
		if bytes.Contains(ev.Data, []byte(id)) {
			break
		}
	}

	// Everything acknowledged is stored; conflicts are exactly right for
	// what is stored (declarations in flight to the killed replica may or
	// may not have committed; either way they are whole).
	stored := storedOperations(t, s, obs)
	for id := range acked {
		if _, ok := stored[id]; !ok {
			t.Errorf("acknowledged operation %s lost", id)
		}
	}
	sameConflicts(t, bruteForce(t, stored), storedPairs(t, s, obs))

	// Webhook deliveries go on after the kill, whoever held the lease.
	waitFor(t, 15*time.Second, "every declaration delivered by a survivor", func() bool {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		seen := map[string]bool{}
		for _, d := range rc.got {
			seen[d.id] = true
		}
		return len(seen) >= len(stored)
	})
	// Nothing was written twice: one operation.declared event each.
	declaredOnce(t, s, s.token("admin", ""), stored)
	t.Logf("%d declarations acknowledged across 3 replicas, the writer killed after %s (it delivered webhooks: %v), %d tried again after a 503; %d stored, all delivered",
		len(acked), killedAt.Round(time.Millisecond), webhooks, retried.Load(), len(stored))
}

// putWithRetryAfter declares operation id with body, and returns the
// status and Retry-After of the answer; ok is false if the server could
// not be reached.
func putWithRetryAfter(s *testServer, id, token string, body map[string]any) (status int, retryAfter string, ok bool) {
	raw, _ := json.Marshal(body)
	req, _ := newRequest("PUT", s.base+"/v1/operations/"+id, raw, token)
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, "", false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After"), true
}

// declaredOnce checks that each stored operation was declared by exactly
// one operation.declared event.
func declaredOnce(t *testing.T, s *testServer, admin string, stored map[string]declared) {
	t.Helper()
	count := map[string]int{}
	after := 0.0
	for {
		evs := s.do("GET", fmt.Sprintf("/v1/events?after=%.0f&limit=1000", after), admin, nil).want(t, 200).list("events")
		if len(evs) == 0 {
			break
		}
		for _, e := range evs {
			m := e.(map[string]any)
			after = m["seq"].(float64)
			if m["type"] == "operation.declared" {
				count[jsonPath(m, "subject", "id").(string)]++
			}
		}
	}
	for id := range stored {
		if count[id] != 1 {
			t.Errorf("operation %s declared %d times, want once", id, count[id])
		}
	}
}

// TestReadyzFollowsTheDatabase cuts a replica off its database: /readyz
// answers 503, and 200 again once the database is back, without a restart.
func TestReadyzFollowsTheDatabase(t *testing.T) {
	store := pgtest.Database(t)
	p := newProxy(t, store)
	s := &testServer{t: t, store: p.url}
	s.mustRun("party", "add", "alpha")
	op := s.token("operator", "alpha")
	s.start()
	s.do("GET", "/readyz", "", nil).want(t, 200)
	p.cut()
	waitFor(t, 10*time.Second, "/readyz to answer 503", func() bool { return s.do("GET", "/readyz", "", nil).status == 503 })
	p.restore()
	waitFor(t, 15*time.Second, "/readyz to recover", func() bool { return s.do("GET", "/readyz", "", nil).status == 200 })
	s.do("PUT", "/v1/operations/"+newID(), op, decl("planned", circle(1, 1, 1000, 0, 100, at(3), at(4)))).want(t, 201)
}

// proxy forwards TCP connections to a PostgreSQL server, and can cut them.
type proxy struct {
	t      *testing.T
	target string
	addr   string
	url    string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func newProxy(t *testing.T, dsn string) *proxy {
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, target: u.Host}
	p.listen("127.0.0.1:0")
	u.Host = p.addr
	p.url = u.String()
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) listen(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
}

// cut closes the listener and every connection: the database is gone.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// restore listens again on the same address.
func (p *proxy) restore() { p.listen(p.addr) }
