package mechanism_test

import (
	"context"
	"errors"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/google/uuid"
)

// failingCommits is a store whose write transactions, while fail is set,
// run to the end and then roll back, as a commit that failed does.
type failingCommits struct {
	*rowsRead
	fail atomic.Bool
}

var errCommit = errors.New("the commit failed")

func (s *failingCommits) Update(ctx context.Context, fn func(dc.Tx) error) error {
	return s.rowsRead.Update(ctx, func(tx dc.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		if s.fail.Load() {
			return errCommit
		}
		return nil
	})
}

// TestPeerLogFromRememberedEntries: a page of the entries the writer
// committed last is answered without reading their rows, and is the page
// a node that remembers none serves from the store, for peers that may
// see some of them and not others: a change of an operation's notes is
// its party's own business, a conflict its two parties'. A batch whose
// commit failed is not remembered: entries logged outside the writer
// take its indexes.
func TestPeerLogFromRememberedEntries(t *testing.T) {
	ctx := context.Background()
	st := &failingCommits{rowsRead: &rowsRead{Store: freshStore(t)}}
	m, clk := openOn(t, st, "alpha", "bravo", "charlie")
	m.Federation().SetPeers([]*dc.Peer{{Key: "k1", Parties: []string{"charlie"}}})
	start := clk.Now().Add(3 * time.Hour)
	alpha := dc.Actor{Party: "alpha", Role: dc.RoleOperator}
	bravo := dc.Actor{Party: "bravo", Role: dc.RoleOperator}
	viewers := [][]string{{"charlie"}, {"bravo"}, {"alpha"}}
	p, err := m.Federation().PeerLog(ctx, []string{"charlie"}, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	from := p.Size
	// samePages checks that each peer is served from memory what it is
	// served from the store, and says how many entries it was sent whole.
	samePages := func(step string) []int {
		t.Helper()
		var remembered []*mechanism.PeerPage
		for _, parties := range viewers {
			p, err := m.Federation().PeerLog(ctx, parties, from, mechanism.MaxPeerLogPage)
			if err != nil {
				t.Fatal(err)
			}
			remembered = append(remembered, p)
		}
		var sent []int
		m.WithoutEntries(func() {
			for i, parties := range viewers {
				stored, err := m.Federation().PeerLog(ctx, parties, from, mechanism.MaxPeerLogPage)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(remembered[i].Entries, stored.Entries) {
					t.Errorf("%s, %v: the page served from memory\n%+v\nis not the one served from the store\n%+v", step, parties, remembered[i].Entries, stored.Entries)
				}
				n := 0
				for _, e := range stored.Entries {
					if e.Data != nil {
						n++
					}
				}
				sent = append(sent, n)
			}
		})
		return sent
	}

	id := uuid.NewString()
	first, err := m.Declare(ctx, alpha, id, circleDecl(20, 20, start, start.Add(time.Hour)), nil)
	if err != nil {
		t.Fatal(err)
	}
	st.fail.Store(true)
	notes := "a note only alpha sees"
	d := circleDecl(20, 20, start, start.Add(time.Hour))
	d.Notes = &notes
	if _, err := m.Declare(ctx, alpha, uuid.NewString(), d, nil); !errors.Is(err, errCommit) {
		t.Fatalf("declaring while commits fail: %v, want the commit's failure", err)
	}
	st.fail.Store(false)
	r := charlieReceipt(first.Operation, clk.Now(), 0)
	if err := m.Federation().KeepNodeReceipt(ctx, r.Origin, r.Receipt, nil); err != nil {
		t.Fatal(err)
	}
	samePages("an entry logged outside the writer where a failed batch's was")

	if _, err := m.Declare(ctx, bravo, uuid.NewString(), circleDecl(20.01, 20, start, start.Add(time.Hour)), nil); err != nil {
		t.Fatal(err)
	}
	changed := circleDecl(20, 20, start, start.Add(time.Hour))
	changed.Notes = &notes
	version := 1
	if _, err := m.Declare(ctx, alpha, id, changed, &version); err != nil {
		t.Fatal(err)
	}
	p, err = m.Federation().PeerLog(ctx, []string{"charlie"}, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	copied := first.Operation.Rev // the index after alpha's declaration
	for i := copied + 1; i < p.Size; i++ {
		if !m.RemembersEntry(i) {
			t.Errorf("the writer does not remember entry %d, which it committed", i)
		}
	}
	st.took()
	for _, parties := range viewers {
		if _, err := m.Federation().PeerLog(ctx, parties, copied+1, mechanism.MaxPeerLogPage); err != nil {
			t.Fatal(err)
		}
	}
	if read := st.took(); len(read) > 0 {
		t.Errorf("serving the writer's entries read the rows of seqs %v", read)
	}
	sent := samePages("the writer's entries")
	if sent[0] == 0 || sent[0] >= sent[1] || sent[1] >= sent[2] {
		t.Errorf("entries sent whole to charlie, bravo and alpha: %v; want some to charlie, more to bravo (their conflict), more to alpha (its notes)", sent)
	}
}
