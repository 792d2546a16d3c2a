package mechanism_test

import (
	"context"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/google/uuid"
)

// rowsRead is a store that notes the seqs of the events whose rows its
// read transactions return.
type rowsRead struct {
	dc.Store
	mu   sync.Mutex
	seqs []int64
}

func (s *rowsRead) View(ctx context.Context, fn func(dc.Tx) error) error {
	return s.Store.View(ctx, func(tx dc.Tx) error { return fn(rowsReadTx{tx, s}) })
}

// took returns the seqs noted since the last call, and forgets them.
func (s *rowsRead) took() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	seqs := s.seqs
	s.seqs = nil
	return seqs
}

func (s *rowsRead) note(evs []*dc.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range evs {
		s.seqs = append(s.seqs, e.Seq)
	}
}

type rowsReadTx struct {
	dc.Tx
	s *rowsRead
}

func (t rowsReadTx) Events(ctx context.Context, after int64, limit int) ([]*dc.Event, error) {
	evs, err := t.Tx.Events(ctx, after, limit)
	t.s.note(evs)
	return evs, err
}

func (t rowsReadTx) EventsWithin(ctx context.Context, after int64, limit, maxBytes int) ([]*dc.Event, error) {
	evs, err := t.Tx.EventsWithin(ctx, after, limit, maxBytes)
	t.s.note(evs)
	return evs, err
}

func (t rowsReadTx) EventsExcept(ctx context.Context, after, through int64, skip []int64) ([]*dc.Event, error) {
	evs, err := t.Tx.EventsExcept(ctx, after, through, skip)
	t.s.note(evs)
	return evs, err
}

// TestPeerLogReadsNoRowOfARememberedCopy: serving a page to a peer does
// not read the rows of the copies the node remembers appending, which it
// sends as their leaf hash only, and the page is the one a node that
// remembers none serves, which reads every row.
func TestPeerLogReadsNoRowOfARememberedCopy(t *testing.T) {
	ctx := context.Background()
	st := &rowsRead{Store: freshStore(t)}
	m, clk := openOn(t, st, "alpha", "bravo", "charlie")
	m.Federation().SetPeers([]*dc.Peer{{Key: "k1", Parties: []string{"charlie"}}})
	start := clk.Now().Add(3 * time.Hour)
	alpha := dc.Actor{Party: "alpha", Role: dc.RoleOperator}
	size := func() int64 {
		t.Helper()
		pp, err := m.Federation().PeerLog(ctx, []string{"charlie"}, 0, 1)
		if err != nil {
			t.Fatal(err)
		}
		n := pp.Size
		return n
	}
	from := size()
	var copies []int64 // log indexes
	for i := range 4 {
		res, err := m.Declare(ctx, alpha, uuid.NewString(), circleDecl(20+float64(i), 20, start, start.Add(time.Hour)), nil)
		if err != nil {
			t.Fatal(err)
		}
		r := charlieReceipt(res.Operation, clk.Now(), int64(i))
		if err := m.Federation().KeepNodeReceipt(ctx, r.Origin, r.Receipt, nil); err != nil {
			t.Fatal(err)
		}
		n := size()
		if !m.RemembersCopy(n - 1) {
			t.Fatalf("the node does not remember the copy it appended at entry %d", n-1)
		}
		copies = append(copies, n-1)
	}
	// The writer's memory of its own entries spares their rows too
	// (federation_entries.go): without it, the page reads the rows of
	// the declarations, and still none of the copies.
	m.WithoutEntries(func() {
		st.took()
		pp, err := m.Federation().PeerLog(ctx, []string{"charlie"}, from, mechanism.MaxPeerLogPage)
		if err != nil {
			t.Fatal(err)
		}
		remembered := pp.Entries
		read := st.took()
		for _, c := range copies {
			if slices.Contains(read, c+1) {
				t.Errorf("serving the page read the row of entry %d, a copy the node remembers (rows read: seqs %v)", c, read)
			}
		}
		if len(read) == 0 {
			t.Errorf("serving the page read no row: the node's own declarations are not judged by their bodies")
		}
		m.ForgetCopies()
		pp, err = m.Federation().PeerLog(ctx, []string{"charlie"}, from, mechanism.MaxPeerLogPage)
		if err != nil {
			t.Fatal(err)
		}
		forgotten := pp.Entries
		if !reflect.DeepEqual(remembered, forgotten) {
			t.Errorf("the page served with the copies remembered\n%+v\nis not the one served with them forgotten\n%+v", remembered, forgotten)
		}
		for _, e := range remembered {
			if slices.Contains(copies, e.Index) && e.Data != nil {
				t.Errorf("entry %d, a copy of the peer's receipt, is sent whole", e.Index)
			}
		}
	})
}
