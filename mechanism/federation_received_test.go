package mechanism_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/pgtest"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/postgres"
	"github.com/deconflict/deconflict/record"
	"github.com/google/uuid"
)

// retryingStore runs every write transaction twice, as a store does that
// retries one whose commit failed (a busy database): first in a
// transaction that rolls back, then in the one that commits.
type retryingStore struct{ dc.Store }

func (s retryingStore) Update(ctx context.Context, fn func(dc.Tx) error) error {
	_ = s.Store.Update(ctx, func(tx dc.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return errors.New("rolled back")
	})
	return s.Store.Update(ctx, fn)
}

// peerVersion is version v of peer operation op of party, as entry
// index of the log of the peer of key node gives it.
func peerVersion(clk *clock, node, party, op string, v int, index int64) mechanism.PeerOperation {
	start := clk.Now().Add(3 * time.Hour)
	vols := circleDecl(10+float64(index), 10, start, start.Add(time.Hour)).Volumes
	now := clk.Now().UTC()
	return mechanism.PeerOperation{
		Origin:    mechanism.PeerOrigin{Node: node, Index: index, LeafHash: fmt.Sprintf("leaf-%d", index)},
		Actor:     dc.Actor{Party: party, Role: dc.RoleOperator},
		Operation: &dc.Operation{ID: op, Party: party, Version: v, State: dc.StatePlanned, Volumes: vols, CreatedAt: now, UpdatedAt: now},
		Mark:      func(dc.Tx) error { return nil },
	}
}

// TestReceiptOfABatch: the versions of peers' operations one batch of
// the writer applies are answered by one receipt (operations.received)
// of each author party, after every copy of the batch, naming each new
// version once in increasing order of the author's entry, by the node's
// key, for the parties it hosts; no receipt of a single version is
// written, and a version applied before gets none. The writer's index
// knows the log up to the receipts, so the next batch need not catch up
// over them; and a store that retries the batch's transaction receipts
// each version once. On SQLite and on PostgreSQL (with
// DECONFLICT_TEST_POSTGRES).
func TestReceiptOfABatch(t *testing.T) {
	for _, c := range []struct {
		db      string
		retried bool
	}{{"sqlite", false}, {"sqlite", true}, {"postgres", false}, {"postgres", true}} {
		t.Run(fmt.Sprintf("%s/retried=%v", c.db, c.retried), func(t *testing.T) {
			ctx := context.Background()
			var st dc.Store
			if c.db == "postgres" {
				pg, err := postgres.Open(ctx, pgtest.Database(t))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { pg.Close() })
				st = pg
			} else {
				st = freshStore(t)
			}
			if c.retried {
				st = retryingStore{st}
			}
			m, clk := openOn(t, st, "alpha", "bravo", "charlie")
			m.Federation().SetPeers([]*dc.Peer{{Key: "k1", Parties: []string{"charlie"}}, {Key: "k2", Parties: []string{"bravo"}}})
			a, b := uuid.NewString(), uuid.NewString()
			first := []mechanism.PeerOperation{
				peerVersion(clk, "k1", "charlie", a, 1, 10),
				peerVersion(clk, "k2", "bravo", b, 1, 5),
				peerVersion(clk, "k1", "charlie", uuid.NewString(), 1, 12),
				peerVersion(clk, "k1", "charlie", a, 2, 11),
			}
			for i, err := range m.Federation().ApplyPeerOperations(ctx, first) {
				if err != nil {
					t.Fatalf("version %d: %v", i, err)
				}
			}
			evs, err := m.Events(ctx, dc.Actor{Role: dc.RoleAdmin}, 0, 1000)
			if err != nil {
				t.Fatal(err)
			}
			if rev, last := m.WriterRev(), evs[len(evs)-1].Seq; rev != last {
				t.Errorf("the writer's index knows the log up to seq %d, not %d, its last", rev, last)
			}
			// The same version again, and one older: nothing new.
			again := []mechanism.PeerOperation{peerVersion(clk, "k2", "bravo", b, 1, 6), peerVersion(clk, "k1", "charlie", a, 1, 13)}
			for i, err := range m.Federation().ApplyPeerOperations(ctx, again) {
				if err != nil {
					t.Fatalf("version %d again: %v", i, err)
				}
			}
			key, err := m.Federation().NodeKey(ctx)
			if err != nil {
				t.Fatal(err)
			}
			evs, err = m.Events(ctx, dc.Actor{Role: dc.RoleAdmin}, 0, 1000)
			if err != nil {
				t.Fatal(err)
			}
			var got []*record.NodeReceipts
			for _, e := range evs {
				switch e.Type {
				case dc.EventOperationReceived:
					t.Errorf("a receipt of a single version, entry %d: %s", e.Seq-1, e.Data)
				case dc.EventOperationsReceived:
					var body mechanism.NodeReceiptsEventData
					if err := json.Unmarshal(e.Data, &body); err != nil || body.Receipts == nil {
						t.Fatalf("entry %d: %v: %s", e.Seq-1, err, e.Data)
					}
					rs := body.Receipts
					if e.Subject != nil || e.Actor != (dc.Actor{Role: "node"}) || !slices.Equal(e.Audience, []string{rs.Party, "alpha"}) {
						t.Errorf("entry %d: subject %v, actor %v, audience %v", e.Seq-1, e.Subject, e.Actor, e.Audience)
					}
					if rs.Key != key.Verifier || !slices.Equal(rs.Receiver, []string{"alpha"}) {
						t.Errorf("entry %d: key %s, receivers %v", e.Seq-1, rs.Key, rs.Receiver)
					}
					if _, err := record.CheckNodeReceiptsFields(rs); err != nil {
						t.Errorf("entry %d: %v", e.Seq-1, err)
					}
					got = append(got, rs)
				}
			}
			if len(got) != 2 {
				t.Fatalf("%d receipts, want one of charlie's versions and one of bravo's", len(got))
			}
			// The versions applied again wrote nothing: the batch's
			// receipts are the log's last entries.
			for _, e := range evs[len(evs)-2:] {
				if e.Type != dc.EventOperationsReceived {
					t.Errorf("entry %d, a %s, follows the batch's receipts", e.Seq-1, e.Type)
				}
			}
			entries := func(rs *record.NodeReceipts) (out []string) {
				for _, v := range rs.Entries {
					out = append(out, fmt.Sprintf("%d:%s v%d %s", v.Entry, v.Operation[:4], v.Version, v.LeafHash))
				}
				return out
			}
			want := map[string][]string{
				"charlie": {"10:" + a[:4] + " v1 leaf-10", "11:" + a[:4] + " v2 leaf-11", fmt.Sprintf("12:%s v1 leaf-12", first[2].Operation.ID[:4])},
				"bravo":   {"5:" + b[:4] + " v1 leaf-5"},
			}
			for _, rs := range got {
				if g := entries(rs); !slices.Equal(g, want[rs.Party]) {
					t.Errorf("the receipt of %s's versions names %v, want %v", rs.Party, g, want[rs.Party])
				}
			}
		})
	}
}
