package federation_test

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/federation"
	"github.com/google/uuid"
)

// cursorStore records, for every write transaction that commits, its
// peers' cursors as it commits them.
type cursorStore struct {
	dc.Store
	mu      sync.Mutex
	commits [][]dc.Peer
}

func (s *cursorStore) Update(ctx context.Context, fn func(dc.Tx) error) error {
	var seen []dc.Peer
	err := s.Store.Update(ctx, func(tx dc.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		ps, err := tx.(dc.FederationTx).Peers(ctx)
		if err != nil {
			return err
		}
		seen = seen[:0]
		for _, p := range ps {
			seen = append(seen, *p)
		}
		return nil
	})
	if err == nil {
		s.mu.Lock()
		s.commits = append(s.commits, seen)
		s.mu.Unlock()
	}
	return err
}

// TestReceiptPageKeptAndAppliedInOneCommit: while bravo's node follows
// alpha's declarations, the pages alpha pulls of bravo's log hold only
// bravo's receipts of them (and its copies, withheld), and alpha applies
// each such page in the transaction that keeps it: no commit ever leaves
// a page of them kept but not applied (verified past the applied
// cursor), which would take the applier another commit.
func TestReceiptPageKeptAndAppliedInOneCommit(t *testing.T) {
	dir := t.TempDir()
	cs := &cursorStore{}
	alpha := &testNode{party: "alpha", path: filepath.Join(dir, "alpha.db"), logs: &syncBuffer{},
		wrap: func(s dc.Store) dc.Store { cs.Store = s; return cs }}
	alpha.proxy = newFaultProxy(t)
	alpha.start(t)
	t.Cleanup(func() { alpha.shutdown(t) })
	if _, err := alpha.mech.Access().AddParty(t.Context(), "alpha", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := federation.Init(t.Context(), alpha.mech, alpha.proxy.URL()); err != nil {
		t.Fatal(err)
	}
	bravo := newNode(t, dir, "bravo")
	peerAll(t, alpha, bravo)
	waitConverged(t, alpha, bravo)
	cs.mu.Lock()
	from := len(cs.commits)
	cs.mu.Unlock()

	rnd := rand.New(rand.NewPCG(7, 7))
	for i := range 20 {
		if _, err := alpha.mech.Declare(t.Context(), alpha.actor(dc.RoleOperator), uuid.NewString(), randomDeclaration(rnd, "alpha", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	waitConverged(t, alpha, bravo)

	cs.mu.Lock()
	defer cs.mu.Unlock()
	pages := 0
	var verified int64
	for _, c := range cs.commits[from:] {
		for _, p := range c {
			if !p.Hosts("bravo") {
				continue
			}
			if p.Verified > verified {
				pages++
				verified = p.Verified
			}
			if p.Applied != p.Verified {
				t.Errorf("a commit keeps bravo's log verified to entry %d but applied only to %d", p.Verified, p.Applied)
			}
		}
	}
	if pages == 0 {
		t.Fatal("alpha kept no page of bravo's receipts")
	}
}
