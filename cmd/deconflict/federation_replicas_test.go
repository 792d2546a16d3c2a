package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deconflict/deconflict/internal/pgtest"
)

// balancer is a load balancer on loopback in front of the replicas of a
// node: it hands each request to the first replica that takes a
// connection, as a load balancer skips a replica that is down.
type balancer struct {
	hs      *httptest.Server
	targets []string // host:port
}

func newBalancer(t *testing.T, targets ...string) *balancer {
	b := &balancer{targets: targets}
	b.hs = httptest.NewServer(b)
	t.Cleanup(b.hs.Close)
	return b
}

func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for _, target := range b.targets {
		c, err := net.DialTimeout("tcp", target, time.Second)
		if err != nil {
			continue
		}
		c.Close()
		p := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: target})
		p.ErrorLog = log.New(io.Discard, "", 0) // a replica killed mid-request is the point
		p.ServeHTTP(w, r)
		return
	}
	http.Error(w, "no replica answers", http.StatusBadGateway)
}

// logEntry is what the tests read of an event of a node's log.
type logEntry struct {
	Seq     int64  `json:"seq"`
	Type    string `json:"type"`
	Subject *struct {
		ID string `json:"id"`
	} `json:"subject"`
	// The event's body is alongside (contract section 9).
	Replicated *struct {
		Node  string `json:"node"`
		Index int64  `json:"index"`
	} `json:"replicated"`
	Receipt *struct {
		Operation string `json:"operation"`
		Version   int    `json:"version"`
		Key       string `json:"key"`
	} `json:"node_receipt"`
	// Receipts is a node's receipt of several versions at once
	// (operations.received).
	Receipts *struct {
		Key     string `json:"key"`
		Entries []struct {
			Operation string `json:"operation"`
			Version   int    `json:"version"`
		} `json:"entries"`
	} `json:"node_receipts"`
}

// nodeLog returns every event of the node's log, as its admin reads them.
func nodeLog(t *testing.T, s *testServer, admin string) []logEntry {
	t.Helper()
	var out []logEntry
	var after int64
	for {
		r := s.do("GET", fmt.Sprintf("/v1/events?after=%d&limit=1000", after), admin, nil).want(t, 200)
		var page struct{ Events []logEntry }
		if err := json.Unmarshal(r.raw, &page); err != nil {
			t.Fatal(err)
		}
		if len(page.Events) == 0 {
			return out
		}
		out = append(out, page.Events...)
		after = out[len(out)-1].Seq
	}
}

// logCounts counts, in a node's log, the events copied from each entry of
// a peer's log (by the entry's index, the event's type and subject), and
// the node receipts of each version of an operation (by the receiving
// node's key).
func logCounts(log []logEntry) (copies, receipts map[string]int) {
	copies, receipts = map[string]int{}, map[string]int{}
	for _, e := range log {
		subject := ""
		if e.Subject != nil {
			subject = e.Subject.ID
		}
		if r := e.Replicated; r != nil {
			copies[fmt.Sprintf("%s entry %d: %s %s", r.Node[:20], r.Index, e.Type, subject)]++
		}
		if r := e.Receipt; r != nil {
			receipts[fmt.Sprintf("%s v%d by %s", r.Operation, r.Version, r.Key[:20])]++
		}
		if rs := e.Receipts; rs != nil {
			for _, v := range rs.Entries {
				receipts[fmt.Sprintf("%s v%d by %s", v.Operation, v.Version, rs.Key[:20])]++
			}
		}
	}
	return copies, receipts
}

// onlyOnce fails the test for each thing a node's log holds more than once.
func onlyOnce(t *testing.T, node, what string, counts map[string]int) {
	t.Helper()
	for k, n := range counts {
		if n != 1 {
			t.Errorf("%s's log holds %s %d times: %s", node, what, n, k)
		}
	}
}

// TestFederationReplicasPullOnce runs alpha's node as two replicas on one
// PostgreSQL database, behind a load balancer, and bravo's node on
// SQLite, each replica and node a process of its own. One alpha replica
// pulls bravo's log and the other none, yet both show bravo's operations,
// the same conflicts and the link up. The puller is killed with SIGKILL
// while bravo declares, and later the replica that took over is stopped
// with SIGTERM (the killed one restarted): each time the other takes the
// pull over and alpha converges, and neither node's log holds any of
// bravo's entries applied twice or any receipt twice.
func TestFederationReplicasPullOnce(t *testing.T) {
	pg := pgtest.Database(t)
	bin := buildBinary(t)
	alpha := []*fedNode{newFedNodeOn(t, bin, "alpha", pg)}
	alpha = append(alpha, alpha[0].replica())
	lb := newBalancer(t, alpha[0].listen, alpha[1].listen)
	bravo := newFedNode(t, bin, "bravo")
	da := strings.TrimSpace(alpha[0].srv.mustRun("federation", "init", "--url", lb.hs.URL))
	db := strings.TrimSpace(bravo.srv.mustRun("federation", "init", "--url", "http://"+bravo.listen))
	file := filepath.Join(t.TempDir(), "bravo.json")
	if err := os.WriteFile(file, []byte(db+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	alpha[0].srv.mustRun("federation", "peer", "add", "@"+file)
	bravo.srv.mustRun("federation", "peer", "add", da)
	for _, n := range append(alpha, bravo) {
		n.start()
	}
	opA, opB := alpha[0].srv.token("operator", "alpha"), bravo.srv.token("operator", "bravo")
	obsA, obsB := alpha[0].srv.token("observer", "alpha"), bravo.srv.token("observer", "bravo")
	adminA, adminB := alpha[0].srv.token("admin", ""), bravo.srv.token("admin", "")

	// alpha's own operations, which bravo's meet: bravo's node receipts
	// of them are kept in alpha's log.
	for i := range 4 {
		alpha[i%2].srv.do("PUT", "/v1/operations/"+newID(), opA, decl("planned",
			circle(33.5, 36.3+float64(i)*0.05, 5000, 1000, 3000, time.Now().Add(2*time.Hour), time.Now().Add(4*time.Hour)))).want(t, 201)
	}
	var (
		mu       sync.Mutex
		declared []string
		batch    atomic.Int64
	)
	// declare has bravo declare n operations from 4 clients at once,
	// and moves every third one (a second version); after declaring
	// half of them it calls midway, once.
	declare := func(n int, midway func()) {
		var wg sync.WaitGroup
		var count atomic.Int64
		var once sync.Once
		b := batch.Add(1)
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < n; i += 4 {
					id := newID()
					at := func(k int) map[string]any {
						return decl("planned", circle(33.4+float64(i%10)*0.02+float64(k)*0.01, 36.2+float64(w)*0.05+float64(b)*0.01, 3000, 500, 2500,
							time.Now().Add(2*time.Hour), time.Now().Add(3*time.Hour)))
					}
					if status, ok := bravo.srv.tryPut(id, opB, at(0)); !ok || status != 201 {
						t.Errorf("bravo's node answered a declaration %d (reachable %v)", status, ok)
						return
					}
					if i%3 == 0 {
						bravo.srv.do("PUT", "/v1/operations/"+id, opB, at(1), "If-Match", `"1"`).want(t, 200)
					}
					mu.Lock()
					declared = append(declared, id)
					mu.Unlock()
					if count.Add(1) == int64(n/2) && midway != nil {
						once.Do(midway)
					}
				}
			}()
		}
		wg.Wait()
	}
	// converged waits until the alpha replicas listed hold every
	// operation bravo declared, with the link up and nothing behind, and
	// each node holds the other's receipts of its operations.
	converged := func(replicas ...*fedNode) {
		t.Helper()
		mu.Lock()
		want := len(declared)
		mu.Unlock()
		var seen string // what the last look found, for a failure
		defer func() {
			if t.Failed() {
				t.Logf("last seen: %s", seen)
			}
		}()
		waitFor(t, 90*time.Second, "alpha's replicas and bravo's node to converge", func() bool {
			seen = fmt.Sprintf("bravo declared %d", want)
			for _, r := range replicas {
				ops := r.srv.do("GET", "/v1/operations?party=bravo&limit=10000", obsA, nil).want(t, 200).list("operations")
				peers := r.srv.do("GET", "/v1/federation", obsA, nil).want(t, 200).list("peers")
				seen += fmt.Sprintf("; alpha's replica on %s holds %d, peers %v", r.listen, len(ops), peers)
				if len(ops) != want || len(peers) != 1 || jsonPath(peers, 0, "state") != "up" || jsonPath(peers, 0, "behind") != 0.0 {
					return false
				}
			}
			// Each node's receipts, and those of the other it kept.
			_, ra := logCounts(nodeLog(t, replicas[0].srv, adminA))
			_, rb := logCounts(nodeLog(t, bravo.srv, adminB))
			seen += fmt.Sprintf("; receipts in alpha's log %d, in bravo's %d", len(ra), len(rb))
			return len(ra) > 0 && slices.Equal(slices.Sorted(maps.Keys(ra)), slices.Sorted(maps.Keys(rb)))
		})
	}
	conflicts := func(s *testServer, tok string) map[string]string { return openConflictIDs(t, s, tok) }
	sameConflicts := func(r *fedNode) {
		t.Helper()
		ca, cb := conflicts(r.srv, obsA), conflicts(bravo.srv, obsB)
		if len(ca) == 0 || len(ca) != len(cb) {
			t.Errorf("alpha's replica on %s holds %d open conflicts, bravo %d", r.listen, len(ca), len(cb))
		}
		for pair, id := range ca {
			if cb[pair] != id {
				t.Errorf("conflict of %s: %s on alpha's replica on %s, %q on bravo", pair, id, r.listen, cb[pair])
			}
		}
	}
	// puller returns the index of the alpha replica that pulls, among
	// those listed, once exactly one of them does.
	puller := func(live ...int) int {
		t.Helper()
		at := -1
		waitFor(t, 30*time.Second, "one alpha replica to pull bravo's log", func() bool {
			at = -1
			for _, i := range live {
				if alpha[i].srv.metric("deconflict_federation_pulling") == 1 {
					if at >= 0 {
						t.Fatalf("alpha's replicas %d and %d both pull", at, i)
					}
					at = i
				}
			}
			return at >= 0
		})
		return at
	}

	declare(40, nil)
	converged(alpha...)
	holder := puller(0, 1)
	other := 1 - holder
	if pulls := alpha[other].srv.metric("deconflict_federation_pulls_total"); pulls != 0 {
		t.Errorf("the alpha replica without the pull lease sent %g pull requests to bravo's node", pulls)
	}
	if pulls := alpha[holder].srv.metric("deconflict_federation_pulls_total"); pulls == 0 {
		t.Errorf("the alpha replica with the pull lease sent no pull request")
	}
	for _, r := range alpha {
		sameConflicts(r)
	}
	// The replica that does not pull shows the link as the puller saw it
	// (within a couple of seconds: the puller stores it once a second).
	waitFor(t, 10*time.Second, "the alpha replica that does not pull to show when bravo's node was last seen", func() bool {
		peers := alpha[other].srv.do("GET", "/v1/federation", obsA, nil).want(t, 200).list("peers")
		return jsonPath(peers, 0, "last_seen") != nil && jsonPath(peers, 0, "state") == "up"
	})

	// The puller dies while bravo declares: the other takes over.
	var ended time.Time // when the puller was killed or stopped
	declare(40, func() { alpha[holder].kill(); ended = time.Now() })
	if got := puller(other); got != other {
		t.Fatalf("replica %d pulls", got)
	}
	t.Logf("the other replica pulls %s after the puller was killed", time.Since(ended).Round(10*time.Millisecond))
	converged(alpha[other])
	sameConflicts(alpha[other])

	// The killed replica comes back; the puller is stopped cleanly while
	// bravo declares: the one that came back takes over.
	alpha[holder].start()
	declare(40, func() { alpha[other].stop(); ended = time.Now() })
	if got := puller(holder); got != holder {
		t.Fatalf("replica %d pulls", got)
	}
	t.Logf("the restarted replica pulls %s after the puller stopped", time.Since(ended).Round(10*time.Millisecond))
	converged(alpha[holder])
	sameConflicts(alpha[holder])

	for _, n := range []struct {
		name  string
		s     *testServer
		admin string
	}{{"alpha", alpha[holder].srv, adminA}, {"bravo", bravo.srv, adminB}} {
		copies, receipts := logCounts(nodeLog(t, n.s, n.admin))
		if len(copies) == 0 || len(receipts) == 0 {
			t.Errorf("%s's log holds %d copies of the other's entries and %d receipts", n.name, len(copies), len(receipts))
		}
		onlyOnce(t, n.name, "a copy of a peer's entry", copies)
		onlyOnce(t, n.name, "a receipt", receipts)
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("bravo declared %d operations; the pull moved twice", len(declared))
}
