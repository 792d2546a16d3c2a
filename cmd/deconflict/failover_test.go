package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/deconflict/deconflict/loadgen/plot"
	"github.com/jackc/pgx/v5"
)

// The failover tests run deconflict on a three-node PostgreSQL cluster under
// Patroni (scripts/postgres-ha), take its primary away in the middle of a
// load, and check that nothing acknowledged is lost and nothing wrong is
// answered. They need Patroni, etcd and PostgreSQL 15 (the script installs
// them from Debian as root) and about a minute, so they run only when
// DECONFLICT_TEST_PGHA=1.
const pghaEnv = "DECONFLICT_TEST_PGHA"

// haCluster is a running scripts/postgres-ha cluster.
type haCluster struct {
	t      *testing.T
	script string
	env    []string
	url    string // the multi-host URL start printed
}

// haNode is one line of scripts/postgres-ha status.
type haNode struct {
	Name    string `json:"name"`
	Role    string `json:"role"`
	Port    int    `json:"port"`
	PID     *int   `json:"pid"`
	APIPort int    `json:"api_port"`
}

// startHA starts the cluster in a fresh directory, and stops and wipes it
// when the test ends.
func startHA(t *testing.T) *haCluster {
	t.Helper()
	if os.Getenv(pghaEnv) == "" {
		t.Skipf("%s is not set: the failover tests start a Patroni cluster (scripts/postgres-ha)", pghaEnv)
	}
	script, err := filepath.Abs("../../scripts/postgres-ha")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(script); err != nil {
		t.Skipf("no scripts/postgres-ha: %v", err)
	}
	dir, err := os.MkdirTemp("", "deconflict-pgha-")
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(dir, 0o755) // PostgreSQL runs as the postgres user
	c := &haCluster{t: t, script: script, env: append(os.Environ(), "DECONFLICT_PGHA_DIR="+dir)}
	t.Cleanup(func() {
		c.run("stop", "--wipe")
		os.RemoveAll(dir)
	})
	c.url = strings.TrimSpace(c.run("start"))
	if !strings.Contains(c.url, "target_session_attrs=read-write") {
		t.Fatalf("scripts/postgres-ha start printed %q, not a URL that follows the primary", c.url)
	}
	return c
}

// run runs the script and returns its stdout, failing the test if it fails.
func (c *haCluster) run(args ...string) string {
	c.t.Helper()
	cmd := exec.Command(c.script, args...)
	cmd.Env = c.env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		c.t.Fatalf("scripts/postgres-ha %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// status returns the nodes as scripts/postgres-ha status reports them.
func (c *haCluster) status() []haNode {
	c.t.Helper()
	var nodes []haNode
	for _, line := range strings.Split(strings.TrimSpace(c.run("status")), "\n") {
		var n haNode
		if err := json.Unmarshal([]byte(line), &n); err != nil {
			c.t.Fatalf("status line %q: %v", line, err)
		}
		nodes = append(nodes, n)
	}
	return nodes
}

// leader returns the node that is the primary now.
func (c *haCluster) leader() haNode {
	c.t.Helper()
	for _, n := range c.status() {
		if n.Role == "leader" && n.PID != nil {
			return n
		}
	}
	c.t.Fatalf("no leader in %v", c.status())
	return haNode{}
}

// database creates a fresh database on the cluster and returns its URL.
func (c *haCluster) database() string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.url)
	if err != nil {
		c.t.Fatalf("connect to the cluster: %v", err)
	}
	defer conn.Close(ctx)
	name := "dcf_failover_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		c.t.Fatal(err)
	}
	// pgx walking the URL's hosts gives up at a standby that does not
	// have the database yet: wait for every node to have replayed it.
	for _, n := range c.status() {
		waitFor(c.t, 30*time.Second, n.Name+" to have the new database", func() bool {
			nc, err := pgx.Connect(ctx, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", n.Port, name))
			if err != nil {
				return false
			}
			nc.Close(ctx)
			return true
		})
	}
	return strings.Replace(c.url, "/deconflict?", "/"+name+"?", 1)
}

// TestFailoverLosesNothing kills the primary PostgreSQL with SIGKILL, and
// then stops a whole node (Patroni and its PostgreSQL), each in the middle
// of conflicting declarations on three deconflict replicas.
func TestFailoverLosesNothing(t *testing.T) {
	c := startHA(t)
	var series []plot.Series
	t.Run("kill -9 the primary postmaster", func(t *testing.T) {
		c.t = t
		pts := failover(t, c, func() func() {
			l := c.leader()
			if err := syscall.Kill(*l.PID, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			return func() {}
		})
		series = append(series, plot.Series{Name: "kill -9 of the primary's postmaster", Points: pts})
	})
	// The killed node rejoins as a replica by itself; wait for a full
	// cluster again (start waits for a leader and a synchronous standby).
	c.t = t
	c.run("start")
	t.Run("stop the primary's whole node", func(t *testing.T) {
		c.t = t
		pts := failover(t, c, func() func() {
			l := c.leader()
			c.run("stop-node", l.Name)
			return func() { c.run("start-node", l.Name) }
		})
		series = append(series, plot.Series{Name: "the primary's node stopped (Patroni and PostgreSQL)", Points: pts})
	})
	if !t.Failed() {
		writeFailoverPlot(t, series)
	}
}

// outcome is what a client saw of one declaration.
type outcome struct {
	id, party string
	body      map[string]any
	status    int
	at        time.Duration // when the answer came, since the load began
	sent      time.Duration
	conflicts [][2]string // pairs in a 2xx answer
}

// failover runs the load on three replicas over a fresh database of the
// cluster, calls disrupt in its middle (it returns how to undo what it did,
// called after the checks), and checks everything that must hold across a
// failover.
func failover(t *testing.T, c *haCluster, disrupt func() (undo func())) [][2]float64 {
	store := c.database()
	admin := &testServer{t: t, store: store}
	parties := []string{"alpha", "bravo", "charlie"}
	for _, p := range parties {
		admin.mustRun("party", "add", p)
	}
	tokens := map[string]string{}
	for _, p := range parties {
		tokens[p] = admin.token("operator", p)
	}
	obs, headB, adm := admin.token("observer", "alpha"), admin.token("head", "bravo"), admin.token("admin", "")
	var (
		rs   []*testServer
		logs []*syncBuffer
	)
	for range 3 {
		r, log := startLogged(t, store)
		rs, logs = append(rs, r), append(logs, log)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for i, l := range logs {
				shown := 0
				for _, line := range strings.Split(l.String(), "\n") {
					if strings.Contains(line, `"internal error"`) && shown < 10 {
						t.Logf("replica %d: %s", i+1, line)
						shown++
					}
				}
			}
		}
	})
	rc := &receiver{t: t}
	rc.listen("127.0.0.1:0")
	hook := rs[1].do("PUT", "/v1/webhooks/ops", headB, map[string]any{"url": "http://" + rc.addr + "/hook", "events": []string{"operation.declared"}}).want(t, 201)
	rc.mu.Lock()
	rc.secret = hook.body["secret"].(string)
	rc.mu.Unlock()
	witnessState := t.TempDir()
	witness := func() (string, int) {
		out, errs, code := admin.run("witness", "--server", rs[2].base, "--token", obs, "--state", witnessState)
		return out + errs, code
	}
	stream := followStream(t, rs[0], adm) // the admin sees every event

	// The load: conflicting declarations from 12 clients over the three
	// replicas, each retrying soon after a 503.
	rng := rand.New(rand.NewPCG(testSeed(t), 29))
	began := time.Now()
	stop := make(chan struct{})
	var (
		mu       sync.Mutex
		outcomes []outcome
		wg       sync.WaitGroup
	)
	for w := range 12 {
		wg.Add(1)
		wrng := rand.New(rand.NewPCG(rng.Uint64(), uint64(w)))
		r := rs[w%3]
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				party := parties[wrng.IntN(3)]
				o := outcome{id: newID(), party: party, body: randomDeclaration(wrng), sent: time.Since(began)}
				status, retryAfter, body, err := put(r.base, o.id, tokens[party], o.body)
				o.status, o.at = status, time.Since(began)
				switch {
				case err != nil:
					t.Errorf("replica %s unreachable: %v", r.base, err)
					return
				case status == 201:
					o.conflicts = answerPairs(body)
				case status == 503:
					if retryAfter == "" {
						t.Errorf("503 without Retry-After: %s", body)
					}
					time.Sleep(50 * time.Millisecond)
				default:
					t.Errorf("replica %s answered %d: %s", r.base, status, body)
				}
				mu.Lock()
				outcomes = append(outcomes, o)
				mu.Unlock()
			}
		}()
	}
	ready := watchReady(rs, began)

	time.Sleep(3 * time.Second)
	killed := time.Since(began)
	undo := disrupt()
	// Run until declarations have succeeded again for 3 s, or give up
	// after a minute.
	// A killed postmaster's backends serve a moment longer: the outage
	// begins at the first declaration refused after the kill, and ends
	// at the first acknowledged that was sent after that.
	var down, recovered time.Duration
	waitFor(t, 60*time.Second, "declarations to succeed again after the failover", func() bool {
		mu.Lock()
		defer mu.Unlock()
		down, recovered = outage(outcomes, killed)
		return recovered > 0 && time.Since(began) > recovered+3*time.Second
	})
	close(stop)
	wg.Wait()
	readyz := ready.stop()
	t.Logf("failover: primary taken away at %s, first refusal %s later, first declaration acknowledged again %s after",
		killed.Round(time.Millisecond), (down - killed).Round(time.Millisecond), (recovered - killed).Round(time.Millisecond))
	if answered, unanswered := forwardedDeclarations(t, rs); answered == 0 {
		t.Errorf("no declaration was handed to the writer replica: the load did not take the path replicas write by")
	} else {
		t.Logf("declarations handed to the writer replica: %g answered, %g unanswered (told 503)", answered, unanswered)
	}
	points := logRate(t, outcomes, killed)

	// /readyz said 503 on every replica while it could not write, and
	// says 200 again.
	for i, r := range rs {
		waitFor(t, 20*time.Second, "/readyz 200 again", func() bool { return r.do("GET", "/readyz", "", nil).status == 200 })
		if !readyz[i].notReadyAfter(killed) {
			t.Errorf("replica %d: /readyz never answered 503 after the primary went away", i+1)
		}
	}
	// Every replica writes again, by itself.
	for i, r := range rs {
		if s, _, body, err := put(r.base, newID(), tokens["alpha"], decl("planned", circle(-70, float64(10*i), 1000, 0, 100, at(50), at(51)))); err != nil || s != 201 {
			t.Errorf("replica %d after the failover: %d %v %s", i+1, s, err, body)
		}
	}

	stored := storedOperations(t, rs[0], obs)
	acked, lostAck := 0, 0
	for _, o := range outcomes {
		if o.status == 201 {
			acked++
			if _, ok := stored[o.id]; !ok {
				t.Errorf("declaration %s was acknowledged (201 after %s) and is lost", o.id, o.at)
			}
		} else if _, ok := stored[o.id]; ok {
			lostAck++ // its answer was lost, not its commit: allowed
		}
	}
	want := bruteForce(t, stored)
	sameConflicts(t, want, storedPairs(t, rs[1], obs))
	for _, o := range outcomes {
		for _, p := range o.conflicts {
			if !want[p] {
				t.Errorf("declaration %s was answered with conflict %v, which brute force does not find", o.id, p)
			}
		}
	}

	// The log: gap-free seqs, accepted by the witness across the failover
	// (it kept the checkpoint it fetched before), heard whole by a stream
	// that resumed with Last-Event-ID.
	if out, code := witness(); code != 0 {
		t.Fatalf("first witness run after the failover: %d %s", code, out)
	}
	seqs := allSeqs(t, rs[2], adm)
	for i, s := range seqs {
		if s != int64(i+1) {
			t.Fatalf("event seqs are not gap-free: position %d holds seq %d", i, s)
		}
	}
	rs[0].do("PUT", "/v1/operations/"+newID(), tokens["bravo"], decl("planned", circle(-71, 0, 1000, 0, 100, at(50), at(51)))).want(t, 201)
	if out, code := witness(); code != 0 || !strings.Contains(out, "grew") {
		t.Fatalf("witness after more declarations: %d %s", code, out)
	}
	last := allSeqs(t, rs[2], adm)
	streamed := stream.until(t, last[len(last)-1], 20*time.Second)
	for i, s := range streamed {
		if s != int64(i+1) {
			t.Fatalf("the stream heard seq %d at position %d: lost or repeated across the failover", s, i)
		}
	}

	// Webhooks: every declaration stored is delivered, and an event
	// delivered twice came under the same webhook-id.
	declaredSeqs := map[int64]bool{}
	for _, e := range eventsOf(t, rs[2], obs, "operation.declared") {
		declaredSeqs[e] = true
	}
	waitFor(t, 30*time.Second, "every declaration delivered by webhook", func() bool {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		got := map[int64]bool{}
		for _, d := range rc.got {
			got[d.seq] = true
		}
		return len(got) >= len(declaredSeqs)
	})
	rc.mu.Lock()
	idOf, again := map[int64]string{}, 0
	for _, d := range rc.got {
		if id, ok := idOf[d.seq]; ok {
			again++
			if id != d.id {
				t.Errorf("event %d delivered under two webhook-ids, %s and %s", d.seq, id, d.id)
			}
		}
		idOf[d.seq] = d.id
	}
	rc.mu.Unlock()
	t.Logf("%d declarations acknowledged, %d stored although their answer was lost, %d stored in all; %d conflicts = brute force; %d events gap-free, streamed whole (%d reconnects); %d webhook deliveries repeated with the same id",
		acked, lostAck, len(stored), len(want), len(seqs), stream.reconnects(), again)
	undo()
	return points
}

// outage returns when, after killed, the first declaration was refused,
// and when the first one sent after that was acknowledged (0 if none yet).
func outage(outcomes []outcome, killed time.Duration) (down, recovered time.Duration) {
	for _, o := range outcomes {
		if o.status != 201 && o.at > killed && (down == 0 || o.at < down) {
			down = o.at
		}
	}
	if down == 0 {
		return 0, 0
	}
	for _, o := range outcomes {
		if o.status == 201 && o.sent > down && (recovered == 0 || o.at < recovered) {
			recovered = o.at
		}
	}
	return down, recovered
}
