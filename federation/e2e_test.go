package federation_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/geo"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/record"
	"github.com/google/uuid"
)

// volume returns a circle of radius km around (lat, lng), from lo to hi
// metres, from start for dur.
func volume(lat, lng, km, lo, hi float64, start time.Time, dur time.Duration) dc.Volume4D {
	return dc.Volume4D{
		Volume: dc.Volume3D{
			OutlineCircle: &dc.Circle{Center: &dc.LatLng{Lat: dc.Float(lat), Lng: dc.Float(lng)}, Radius: &dc.Measure{Value: dc.Float(km * 1000), Units: "M"}},
			AltitudeLower: &dc.Altitude{Value: dc.Float(lo), Reference: "W84", Units: "M"},
			AltitudeUpper: &dc.Altitude{Value: dc.Float(hi), Reference: "W84", Units: "M"},
		},
		TimeStart: &dc.Time{Value: start.UTC().Format(time.RFC3339), Format: "RFC3339"},
		TimeEnd:   &dc.Time{Value: start.Add(dur).UTC().Format(time.RFC3339), Format: "RFC3339"},
	}
}

// randomDeclaration is an operation somewhere in a 50 km square over
// the next hours, so that many pairs conflict and many do not.
func randomDeclaration(rnd *rand.Rand, party string, i int) mechanism.Declaration {
	start := time.Now().Add(2*time.Hour + time.Duration(rnd.IntN(240))*time.Minute).Truncate(time.Second)
	lo := float64(rnd.IntN(6000))
	cs := fmt.Sprintf("CS-%s-%d-PRIVATE", strings.ToUpper(party), i)
	note := fmt.Sprintf("NOTE-%s-%d-PRIVATE", party, i)
	return mechanism.Declaration{
		Volumes:  []dc.Volume4D{volume(33+rnd.Float64()*0.5, 36+rnd.Float64()*0.5, 1+rnd.Float64()*6, lo, lo+300+float64(rnd.IntN(2000)), start, time.Duration(10+rnd.IntN(80))*time.Minute)},
		Callsign: &cs, Notes: &note,
	}
}

// converged reports whether every node has verified and applied every
// peer's whole log, and the logs' sizes.
func converged(t testing.TB, nodes []*testNode) (bool, []int64) {
	t.Helper()
	ctx := t.Context()
	sizes := make([]int64, len(nodes))
	for i, n := range nodes {
		if err := n.store.View(ctx, func(tx dc.Tx) (err error) { sizes[i], err = tx.LastSeq(ctx); return err }); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range nodes {
		var peers []*dc.Peer
		if err := n.store.View(ctx, func(tx dc.Tx) (err error) {
			peers, err = tx.(dc.FederationTx).Peers(ctx)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		for _, p := range peers {
			for j, m := range nodes {
				if m != n && p.Hosts(m.party) && (p.Applied != sizes[j] || p.Verified != sizes[j]) {
					return false, sizes
				}
			}
		}
	}
	return true, sizes
}

// waitConverged waits until every node holds every peer's whole log, and
// nothing moved for a moment.
func waitConverged(t testing.TB, nodes ...*testNode) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var prev []int64
	for time.Now().Before(deadline) {
		ok, sizes := converged(t, nodes)
		if ok && fmt.Sprint(sizes) == fmt.Sprint(prev) {
			return
		}
		if !ok {
			prev = nil
		} else {
			prev = sizes
		}
		time.Sleep(400 * time.Millisecond)
	}
	for _, n := range nodes {
		st, _ := n.node.Status(t.Context())
		t.Logf("%s: %+v", n.party, st)
	}
	t.Fatalf("the nodes did not converge")
}

// conflictSets returns, for a node, the pairs of its live operations that
// conflict by brute force, and its open (or waived) conflicts by pair
// with their IDs.
func conflictSets(t *testing.T, n *testNode) (brute map[string]bool, open map[string]string) {
	t.Helper()
	ctx := t.Context()
	brute, open = map[string]bool{}, map[string]string{}
	err := n.store.View(ctx, func(tx dc.Tx) error {
		st, err := tx.Settings(ctx)
		if err != nil {
			return err
		}
		type live struct {
			op   *dc.Operation
			vols []geo.Volume
		}
		var ops []live
		if err := tx.OperationsSince(ctx, 0, true, func(op *dc.Operation) error {
			vols, err := geo.ParseVolumes(op.Volumes, "volumes")
			ops = append(ops, live{op, vols})
			return err
		}); err != nil {
			return err
		}
		for i := range ops {
			for j := i + 1; j < len(ops); j++ {
				a, b := ops[i], ops[j]
				if a.op.Party == b.op.Party {
					continue
				}
				if _, hit := geo.CompareOperations(a.vols, b.vols, geo.MinimaOf(st)); hit {
					brute[pairKey(a.op.ID, b.op.ID)] = true
				}
			}
		}
		cs, _, err := tx.Conflicts(ctx, dc.ConflictFilter{Statuses: []dc.ConflictStatus{dc.ConflictOpen, dc.ConflictWaived}, Limit: 100000})
		for _, c := range cs {
			open[pairKey(c.Operations[0], c.Operations[1])] = c.ID
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return brute, open
}

func pairKey(a, b string) string {
	if b < a {
		a, b = b, a
	}
	return a + " " + b
}

// checkSameConflicts checks that every node holds exactly the brute-force
// conflict set of the operations it holds, and that nodes name each
// conflict alike.
func checkSameConflicts(t *testing.T, nodes ...*testNode) int {
	t.Helper()
	ids := map[string]string{}
	total := 0
	for _, n := range nodes {
		brute, open := conflictSets(t, n)
		for pair := range brute {
			if open[pair] == "" {
				t.Errorf("%s: pair %s conflicts but holds no open or waived conflict", n.party, pair)
			}
		}
		for pair, id := range open {
			if !brute[pair] {
				t.Errorf("%s: conflict %s of pair %s is not resolved, but the pair does not conflict", n.party, id, pair)
			}
			if prev, ok := ids[pair]; ok && prev != id {
				t.Errorf("%s: conflict of pair %s is %s here and %s on another node", n.party, pair, id, prev)
			}
			ids[pair] = id
		}
		total = max(total, len(open))
	}
	return total
}

// TestThreeNodes runs three nodes, one party each: concurrent conflicting
// declarations on different nodes end with every node holding exactly
// the brute-force conflict set under the same IDs; acknowledgements and
// waivers made on different nodes meet; nothing private crosses; the
// author's evidence carries the receivers' signed receipts.
func TestThreeNodes(t *testing.T) {
	dir := t.TempDir()
	alpha, bravo, charlie := newNode(t, dir, "alpha"), newNode(t, dir, "bravo"), newNode(t, dir, "charlie")
	nodes := []*testNode{alpha, bravo, charlie}
	peerAll(t, nodes...)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)

	// Each node declares, changes and cancels its own operations at the
	// same time as the others.
	var wg sync.WaitGroup
	ids := map[string][]string{}
	var idsMu sync.Mutex
	for k, n := range nodes {
		for w := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rnd := rand.New(rand.NewPCG(seed, uint64(10*k+w)))
				for i := range 12 {
					id := uuid.NewString()
					d := randomDeclaration(rnd, n.party, i)
					if _, err := n.mech.Declare(t.Context(), n.actor(dc.RoleOperator), id, d, nil); err != nil {
						t.Errorf("%s declare: %v", n.party, err)
						return
					}
					switch i % 4 {
					case 1: // moved
						d2 := randomDeclaration(rnd, n.party, i)
						v := 1
						if _, err := n.mech.Declare(t.Context(), n.actor(dc.RoleOperator), id, d2, &v); err != nil {
							t.Errorf("%s move: %v", n.party, err)
						}
					case 2:
						if _, err := n.mech.Cancel(t.Context(), n.actor(dc.RoleOperator), id, nil); err != nil {
							t.Errorf("%s cancel: %v", n.party, err)
						}
					}
					idsMu.Lock()
					ids[n.party] = append(ids[n.party], id)
					idsMu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	waitConverged(t, nodes...)
	total := checkSameConflicts(t, nodes...)
	t.Logf("%d open conflicts on the node that sees most", total)
	if total == 0 {
		t.Fatalf("the scenario made no conflict; it proves nothing")
	}

	t.Run("acknowledgements and waivers meet", func(t *testing.T) {
		c := firstConflict(t, alpha, "alpha", "bravo")
		if _, err := alpha.mech.AckConflict(t.Context(), alpha.actor(dc.RoleLiaison), c.ID, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := alpha.mech.WaiveConflict(t.Context(), alpha.actor(dc.RoleHead), c.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := bravo.mech.WaiveConflict(t.Context(), bravo.actor(dc.RoleHead), c.ID); err != nil {
			t.Fatal(err)
		}
		waitConverged(t, nodes...)
		for _, n := range []*testNode{alpha, bravo} {
			got := conflictOn(t, n, c.ID)
			if got.Status != dc.ConflictWaived || got.Waived["alpha"] == nil || got.Waived["bravo"] == nil || got.Acknowledged["alpha"] == nil {
				t.Errorf("%s: conflict %s after both heads waived on their own nodes: status %s, waived %v, acknowledged %v",
					n.party, c.ID, got.Status, got.Waived, got.Acknowledged)
			}
		}
		checkSameConflicts(t, nodes...)
	})

	t.Run("hotline messages cross and are acknowledged", func(t *testing.T) {
		msg, err := bravo.mech.Hotline().SendMessage(t.Context(), bravo.actor(dc.RoleLiaison), mechanism.Outgoing{To: []string{"alpha"}, Text: "call me on the red line", Urgency: "urgent"})
		if err != nil {
			t.Fatal(err)
		}
		waitConverged(t, nodes...)
		got, _, err := alpha.mech.Hotline().Messages(t.Context(), alpha.actor(dc.RoleLiaison), dc.MessageFilter{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].ID != msg.ID || got[0].Text != msg.Text || got[0].From.Party != "bravo" {
			t.Fatalf("alpha's node holds messages %+v, want bravo's", got)
		}
		if others, _, _ := charlie.mech.Hotline().Messages(t.Context(), charlie.actor(dc.RoleLiaison), dc.MessageFilter{Limit: 100}); len(others) != 0 {
			t.Errorf("charlie's node holds a message between bravo and alpha")
		}
		if _, err := alpha.mech.Hotline().AckMessage(t.Context(), alpha.actor(dc.RoleLiaison), msg.ID); err != nil {
			t.Fatal(err)
		}
		waitConverged(t, nodes...)
		back, _, _ := bravo.mech.Hotline().Messages(t.Context(), bravo.actor(dc.RoleLiaison), dc.MessageFilter{Limit: 100})
		if len(back) != 1 || back[0].Acknowledged["alpha"] == nil {
			t.Errorf("bravo's node does not see alpha's acknowledgement: %+v", back)
		}
	})

	t.Run("a node acts only for its own party", func(t *testing.T) {
		tok := alpha.token(t, dc.RoleOperator, "bravo")
		err := alpha.client(tok).Do(t.Context(), "PUT", "/v1/operations/"+uuid.NewString(),
			map[string]any{"volumes": []dc.Volume4D{volume(33, 36, 1, 0, 100, time.Now().Add(time.Hour), time.Hour)}}, nil)
		if err == nil || !strings.Contains(err.Error(), "forbidden") {
			t.Errorf("bravo's operator declaring on alpha's node: %v, want 403 forbidden", err)
		}
		var fed struct {
			Node  struct{ Parties []string }
			Peers []struct {
				Parties []string
				State   string
				Behind  int64
			}
		}
		if err := alpha.client(alpha.token(t, dc.RoleObserver, "alpha")).Do(t.Context(), "GET", "/v1/federation", nil, &fed); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(fed.Node.Parties) != "[alpha]" || len(fed.Peers) != 2 || fed.Peers[0].State != dc.PeerUp || fed.Peers[0].Behind != 0 {
			t.Errorf("GET /v1/federation on alpha: %+v", fed)
		}
	})

	t.Run("nothing private leaves its node", func(t *testing.T) {
		for _, n := range nodes {
			own := fmt.Sprintf("NOTE-%s-0-PRIVATE", n.party)
			if !bytes.Contains(readStoreFiles(t, n), []byte(own)) {
				t.Fatalf("%s's own store lacks its note %q: the search below would prove nothing", n.party, own)
			}
			for _, m := range nodes {
				if m == n {
					continue
				}
				for _, secret := range []string{"NOTE-" + n.party, "CS-" + strings.ToUpper(n.party)} {
					if bytes.Contains(readStoreFiles(t, m), []byte(secret)) {
						t.Errorf("%s's store holds %s's private %q", m.party, n.party, secret)
					}
					if bytes.Contains(n.proxy.wireBytes(), []byte(secret)) {
						t.Errorf("%s's private %q crossed the wire to a peer", n.party, secret)
					}
				}
			}
		}
	})

	t.Run("evidence carries the receivers' signed receipts", func(t *testing.T) {
		op := ids["alpha"][0]
		b, err := alpha.mech.Record().Evidence(t.Context(), alpha.actor(dc.RoleLiaison), op)
		if err != nil {
			t.Fatal(err)
		}
		keys, _ := alpha.mech.Record().Keys(t.Context())
		tl, err := record.Verify(b, keys[0].Verifier)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := tl.Write(&buf); err != nil {
			t.Fatal(err)
		}
		for _, who := range []string{"bravo", "charlie"} {
			if !strings.Contains(buf.String(), "received by "+who+"'s node at ") || !strings.Contains(buf.String(), "signed by "+who) {
				t.Errorf("the timeline lacks %s's receipt:\n%s", who, buf.String())
			}
		}
		if !strings.Contains(buf.String(), "lead time") {
			t.Errorf("the timeline gives no lead time:\n%s", buf.String())
		}
		// Each receipt is proven by its receiving node's checkpoint: one
		// per node, which the bundle carries with the node's entry.
		if len(b.NodeReceipts) != 2 {
			t.Fatalf("the bundle carries %d receiving nodes' checkpoints, want bravo's and charlie's", len(b.NodeReceipts))
		}
		if err := tl.CheckNodeKeys([]string{bravo.descriptor(t).Key, charlie.descriptor(t).Key}); err != nil {
			t.Errorf("the receipts are not the receiving nodes' by their keys: %v", err)
		}
		// One changed byte of a receipt, of the receiving node's entry or
		// of its checkpoint fails.
		flip := func(s string, sub string) string {
			i := strings.Index(s, sub)
			if i < 0 {
				t.Fatalf("no %q in %s", sub, s)
			}
			i += len(sub)
			return s[:i] + string(s[i]^1) + s[i+1:]
		}
		for name, change := range map[string]func(b *record.Bundle){
			"the author's copy": func(b *record.Bundle) {
				for i, e := range b.Entries {
					// A receipt of one version ("node_receipt") or of
					// several ("node_receipts").
					if strings.Contains(e.Data, `"node_receipt`) {
						b.Entries[i].Data = flip(e.Data, `"received_at":"`)
						return
					}
				}
				t.Fatal("the bundle holds no copy of a receipt")
			},
			"the receiving node's entry": func(b *record.Bundle) {
				b.NodeReceipts[0].Entries[0].Data = flip(b.NodeReceipts[0].Entries[0].Data, `"received_at":"`)
			},
			"the receiving node's checkpoint": func(b *record.Bundle) {
				b.NodeReceipts[0].Checkpoint = flip(b.NodeReceipts[0].Checkpoint, "\n")
			},
		} {
			c, err := alpha.mech.Record().Evidence(t.Context(), alpha.actor(dc.RoleLiaison), op)
			if err != nil {
				t.Fatal(err)
			}
			change(c)
			if _, err := record.Verify(c, keys[0].Verifier); err == nil {
				t.Errorf("a bundle with a change in %s verified", name)
			}
		}
	})
}

// firstConflict returns an open conflict between two parties on a node.
func firstConflict(t *testing.T, n *testNode, p1, p2 string) *dc.Conflict {
	t.Helper()
	cs, _, err := n.mech.Conflicts(t.Context(), n.actor(dc.RoleHead), dc.ConflictFilter{Statuses: []dc.ConflictStatus{dc.ConflictOpen}, Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.Involves(p1) && c.Involves(p2) {
			return c
		}
	}
	t.Fatalf("no open conflict between %s and %s on %s", p1, p2, n.party)
	return nil
}

func conflictOn(t *testing.T, n *testNode, id string) *dc.Conflict {
	t.Helper()
	c, err := n.mech.Conflict(t.Context(), dc.Actor{Role: dc.RoleAdmin}, id)
	if err != nil {
		t.Fatalf("%s: conflict %s: %v", n.party, id, err)
	}
	return c
}

// readStoreFiles returns the bytes of a node's SQLite files.
func readStoreFiles(t *testing.T, n *testNode) []byte {
	t.Helper()
	var all []byte
	for _, suffix := range []string{"", "-wal", "-shm"} {
		b, err := os.ReadFile(n.path + suffix)
		if err == nil {
			all = append(all, b...)
		}
	}
	return all
}
