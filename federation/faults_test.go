package federation_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/record"
	"github.com/google/uuid"
)

// declareMany has every node declare n operations (some moved, some
// cancelled), all at the same time. The first of each node's is at one
// place and time, so that the nodes' operations surely conflict; the
// others are random and may or may not.
func declareMany(t *testing.T, seed uint64, n int, nodes ...*testNode) {
	t.Helper()
	at := time.Now().Add(3 * time.Hour).Truncate(time.Second)
	var wg sync.WaitGroup
	for k, node := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(seed, uint64(k)))
			for i := range n {
				id := uuid.NewString()
				d := randomDeclaration(rnd, node.party, i)
				if i == 0 {
					d = mechanism.Declaration{Volumes: []dc.Volume4D{volume(33.25, 36.25, 2, 0, 1000, at, time.Hour)}}
				}
				if _, err := node.mech.Declare(t.Context(), node.actor(dc.RoleOperator), id, d, nil); err != nil {
					t.Errorf("%s declare: %v", node.party, err)
					return
				}
				if i%3 == 1 {
					v := 1
					if _, err := node.mech.Declare(t.Context(), node.actor(dc.RoleOperator), id, randomDeclaration(rnd, node.party, i), &v); err != nil {
						t.Errorf("%s move: %v", node.party, err)
					}
				}
				if i%5 == 2 {
					if _, err := node.mech.Cancel(t.Context(), node.actor(dc.RoleOperator), id, nil); err != nil {
						t.Errorf("%s cancel: %v", node.party, err)
					}
				}
			}
		}()
	}
	wg.Wait()
}

// receiptCounts counts, on a node, the receipts of each (operation,
// version, receiver) its entries give (operation.received of one version,
// operations.received of several), the node's own and those it kept.
func receiptCounts(t *testing.T, n *testNode) map[string]int {
	t.Helper()
	evs, err := n.mech.Events(t.Context(), dc.Actor{Role: dc.RoleAdmin}, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, e := range evs {
		switch e.Type {
		case dc.EventOperationReceived:
			counts[e.Subject.ID+" "+receiptKey(t, e)]++
		case dc.EventOperationsReceived:
			for _, k := range receiptsKeys(t, e) {
				counts[k]++
			}
		}
	}
	return counts
}

// TestFaultyLinks puts a proxy that drops about half the requests and
// answers, delays, duplicates (replays) and so reorders them between the
// nodes, cuts one link for a while and restarts one node, while the nodes
// declare: afterwards every node holds the same state as without faults,
// each receipt once.
func TestFaultyLinks(t *testing.T) {
	dir := t.TempDir()
	alpha, bravo, charlie := newNode(t, dir, "alpha"), newNode(t, dir, "bravo"), newNode(t, dir, "charlie")
	nodes := []*testNode{alpha, bravo, charlie}
	peerAll(t, nodes...)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	for _, n := range nodes {
		n.proxy.faults(false, 0.3, 150*time.Millisecond, true)
	}
	declareMany(t, seed, 10, nodes...)
	bravo.proxy.faults(true, 0, 0, false) // bravo's link is cut
	declareMany(t, seed+1, 10, nodes...)
	charlie.shutdown(t) // charlie stops mid-replication and comes back
	declareMany(t, seed+2, 5, alpha, bravo)
	charlie.start(t)
	bravo.proxy.faults(false, 0.3, 150*time.Millisecond, true)
	declareMany(t, seed+3, 5, nodes...)
	time.Sleep(2 * time.Second)
	for _, n := range nodes {
		n.proxy.faults(false, 0, 0, false)
	}
	waitConverged(t, nodes...)
	if total := checkSameConflicts(t, nodes...); total == 0 {
		t.Fatalf("no conflict: the scenario proves nothing")
	}
	replays := 0
	for _, n := range nodes {
		n.proxy.mu.Lock()
		replays += n.proxy.replays
		n.proxy.mu.Unlock()
		counts := receiptCounts(t, n)
		if len(counts) == 0 {
			t.Errorf("%s: no receipt at all", n.party)
		}
		for k, c := range counts {
			if c != 1 {
				t.Errorf("%s: receipt %s %d times", n.party, k, c)
			}
		}
	}
	if replays == 0 {
		t.Errorf("no duplicated request was refused as a replay")
	}
	t.Logf("%d replayed requests refused", replays)
}

// receiptKey names a receipt event by its receiver and version, and
// whether it is the node's own or a kept copy.
func receiptKey(t *testing.T, e *dc.Event) string {
	t.Helper()
	var b struct {
		R struct {
			Receiver []string `json:"receiver"`
			Version  int      `json:"version"`
		} `json:"node_receipt"`
		Replicated any `json:"replicated"`
	}
	if err := json.Unmarshal(e.Data, &b); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("v%d by %v copy=%v", b.R.Version, b.R.Receiver, b.Replicated != nil)
}

// receiptsKeys names each version an operations.received event receipts
// as receiptKey names a receipt of one, after its operation.
func receiptsKeys(t *testing.T, e *dc.Event) []string {
	t.Helper()
	var b struct {
		R          record.NodeReceipts `json:"node_receipts"`
		Replicated any                 `json:"replicated"`
	}
	if err := json.Unmarshal(e.Data, &b); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, v := range b.R.Entries {
		out = append(out, fmt.Sprintf("%s v%d by %v copy=%v", v.Operation, v.Version, b.R.Receiver, b.Replicated != nil))
	}
	return out
}
