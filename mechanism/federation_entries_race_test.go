package mechanism_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/pgtest"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/postgres"
	"github.com/google/uuid"
)

// failsWhenSet is a store whose write transactions, while fail is set,
// run to the end and then roll back, as a commit that failed does.
type failsWhenSet struct {
	dc.Store
	fail atomic.Bool
}

func (s *failsWhenSet) Update(ctx context.Context, fn func(dc.Tx) error) error {
	return s.Store.Update(ctx, func(tx dc.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		if s.fail.Load() {
			return errCommit
		}
		return nil
	})
}

// servedPage is a page of a node's log as a peer hosting parties was
// served it.
type servedPage struct {
	node    int
	parties []string
	entries []mechanism.PeerLogEntry
}

// TestPeerLogOfTwoWritersWhilePagesAreServed: two processes write one
// store in turn, as replicas do on PostgreSQL when the writer's lease
// passes from one to the other — one whose commits fail now and then,
// one whose store runs every write transaction twice — with private
// notes, conflicts, peers' operations (copies and the node's receipts of
// them) and peers' receipts kept outside the writer, while both serve
// pages to peers hosting different parties. Every entry of every page
// served is the one the log finally holds: its leaf hash the log's, its
// bytes the log's record and sent only to a peer one of whose parties may
// see it, and never for a copy. Run it with -race: each writer's memory
// of its entries is written by it and read by every page it serves. On
// SQLite, and on PostgreSQL (with DECONFLICT_TEST_POSTGRES), where the
// two processes have a connection pool each.
func TestPeerLogOfTwoWritersWhilePagesAreServed(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		st := freshStore(t)
		peerLogOfTwoWriters(t, st, st)
	})
	t.Run("postgres", func(t *testing.T) {
		url := pgtest.Database(t)
		open := func() dc.Store {
			st, err := postgres.Open(context.Background(), url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		}
		peerLogOfTwoWriters(t, open(), open())
	})
}

// peerLogOfTwoWriters is TestPeerLogOfTwoWritersWhilePagesAreServed of
// two processes, each on its handle of one store.
func peerLogOfTwoWriters(t *testing.T, st1, st2 dc.Store) {
	ctx := context.Background()
	flaky := &failsWhenSet{Store: st1}
	m1, clk := openOn(t, flaky, "alpha", "bravo", "charlie", "delta")
	m2 := mechanism.New(retryingStore{st2}, mechanism.Options{Now: clk.Now})
	if err := m2.Load(ctx); err != nil {
		t.Fatal(err)
	}
	nodes := []*mechanism.Mechanism{m1, m2}
	for _, m := range nodes {
		m.Federation().SetPeers([]*dc.Peer{{Key: "k1", Parties: []string{"charlie"}}, {Key: "k2", Parties: []string{"delta"}}})
	}
	viewers := [][]string{{"charlie"}, {"delta"}, {"charlie", "delta"}, {"alpha"}, {"bravo"}}
	start := clk.Now().Add(3 * time.Hour)
	alpha := dc.Actor{Party: "alpha", Role: dc.RoleOperator}
	bravo := dc.Actor{Party: "bravo", Role: dc.RoleOperator}

	var mu sync.Mutex
	var pages []servedPage
	done := make(chan struct{})
	var readers sync.WaitGroup
	for r := range 4 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				node := (r + i) % len(nodes)
				parties := viewers[(r*7+i)%len(viewers)]
				f := nodes[node].Federation()
				from := int64((r * 13 * i) % 40)
				if _, _, err := f.PeerLogEchoes(ctx, parties, from, mechanism.MaxPeerLogPage); err != nil {
					t.Error(err)
					return
				}
				pp, err := f.PeerLog(ctx, parties, from, mechanism.MaxPeerLogPage)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				pages = append(pages, servedPage{node: node, parties: parties, entries: pp.Entries})
				mu.Unlock()
			}
		}()
	}

	var writers sync.WaitGroup
	const rounds = 12
	for w, m := range nodes {
		writers.Add(1)
		go func() {
			defer writers.Done()
			lat := 20 + 5*float64(w)
			for i := range rounds {
				id := uuid.NewString()
				notes := fmt.Sprintf("alpha's own note %d", i)
				d := circleDecl(lat, 20+0.5*float64(i), start, start.Add(time.Hour))
				d.Notes = &notes
				if _, err := m.Declare(ctx, alpha, id, d, nil); err != nil {
					t.Error(err)
					return
				}
				// A change of the notes only: alpha's own business.
				notes += " changed"
				version := 1
				if _, err := m.Declare(ctx, alpha, id, d, &version); err != nil {
					t.Error(err)
					return
				}
				// bravo's declaration where alpha's is: a conflict of the two.
				if _, err := m.Declare(ctx, bravo, uuid.NewString(), circleDecl(lat+0.01, 20+0.5*float64(i), start, start.Add(time.Hour)), nil); err != nil {
					t.Error(err)
					return
				}
				// A peer's operation: its copy, and the node's receipt of it.
				ops := []mechanism.PeerOperation{peerVersion(clk, "k1", "charlie", uuid.NewString(), 1, int64(40*w+i))}
				for _, err := range m.Federation().ApplyPeerOperations(ctx, ops) {
					if err != nil {
						t.Error(err)
						return
					}
				}
				if w == 0 && i%3 == 0 {
					// A batch whose commit fails: its entries' indexes
					// go to the other writer's next entries.
					flaky.fail.Store(true)
					notes := "never committed"
					d := circleDecl(lat, 21, start, start.Add(time.Hour))
					d.Notes = &notes
					if _, err := m.Declare(ctx, alpha, uuid.NewString(), d, nil); !errors.Is(err, errCommit) {
						t.Errorf("declaring while commits fail: %v, want the commit's failure", err)
					}
					flaky.fail.Store(false)
				}
			}
		}()
	}
	writers.Wait()
	close(done)
	readers.Wait()
	if t.Failed() {
		return
	}

	pp, err := m1.Federation().PeerLog(ctx, []string{"charlie"}, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	var truth []mechanism.LogEntry
	for int64(len(truth)) < pp.Size {
		es, err := m1.Record().LogEntries(ctx, dc.Actor{Role: dc.RoleAdmin}, int64(len(truth)), pp.Size)
		if err != nil {
			t.Fatal(err)
		}
		truth = append(truth, es...)
	}
	for _, m := range nodes {
		for _, parties := range viewers {
			pp, err := m.Federation().PeerLog(ctx, parties, 0, mechanism.MaxPeerLogPage)
			if err != nil {
				t.Fatal(err)
			}
			pages = append(pages, servedPage{parties: parties, entries: pp.Entries})
		}
	}
	remembered := [2]int{}
	for i := range truth {
		for n, m := range nodes {
			if m.RemembersEntry(int64(i)) {
				remembered[n]++
			}
		}
	}
	if remembered[0] == 0 || remembered[1] == 0 {
		t.Fatalf("the writers remember %v entries of %d: the test proves nothing", remembered, len(truth))
	}
	sent, withheld := 0, 0
	for _, p := range pages {
		for _, e := range p.entries {
			want := truth[e.Index]
			visible, isCopy := judge(t, *want.Data, p.parties)
			switch {
			case e.LeafHash != want.LeafHash:
				t.Fatalf("node %d, %v: entry %d sent with leaf hash %x, the log's is %x", p.node, p.parties, e.Index, e.LeafHash, want.LeafHash)
			case e.Data == nil && visible && !isCopy:
				t.Fatalf("node %d, %v: entry %d withheld, though a party of the peer may see it: %s", p.node, p.parties, e.Index, *want.Data)
			case e.Data == nil:
				withheld++
			case !visible || isCopy:
				t.Fatalf("node %d, %v: entry %d sent whole, though the peer may not see it (copy: %v): %s", p.node, p.parties, e.Index, isCopy, *want.Data)
			case !bytes.Equal(e.Data, []byte(*want.Data)):
				t.Fatalf("node %d, %v: entry %d sent as %s, the log holds %s", p.node, p.parties, e.Index, e.Data, *want.Data)
			default:
				sent++
			}
		}
	}
	t.Logf("%d pages checked: %d entries sent whole, %d withheld; entries remembered by each writer: %v of %d", len(pages), sent, withheld, remembered, len(truth))
}

// judge reads a record of the log: whether a peer hosting parties may
// see the event it logs (dc.Event.VisibleTo), and whether it is a copy of
// a peer's entry (its body names the entry it replicates).
func judge(t *testing.T, rec string, parties []string) (visible, isCopy bool) {
	t.Helper()
	var e struct {
		Type     string   `json:"type"`
		Audience []string `json:"audience"`
		Data     struct {
			Replicated json.RawMessage `json:"replicated"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(rec), &e); err != nil {
		t.Fatalf("record %s: %v", rec, err)
	}
	ev := dc.Event{Type: e.Type, Audience: e.Audience}
	for _, p := range parties {
		visible = visible || ev.VisibleTo(dc.Actor{Party: p, Role: dc.RoleLiaison})
	}
	return visible, len(e.Data.Replicated) > 0 && string(e.Data.Replicated) != "null"
}
