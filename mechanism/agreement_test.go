package mechanism_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/geo"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/google/uuid"
)

// agreedWorld is a federation node hosting alpha and bravo, with charlie
// and echo hosted by peer k1 and delta by peer k2, each node with
// separation minima of its own.
type agreedWorld struct {
	t   *testing.T
	m   *mechanism.Mechanism
	clk *clock
	r   *rand.Rand
	// node is the node hosting each party ("" for this one); settings
	// each node's settings.
	node     map[string]string
	settings map[string]dc.Settings
	ops      map[string]*dc.Operation // every operation, as it stands
	entry    int64                    // the next entry index of the peers' logs
}

var agreedParties = []string{"alpha", "bravo", "charlie", "delta", "echo"}

// randSettings returns settings with minima drawn from a few values, so
// that nodes often agree on some axes and not on others.
func randSettings(r *rand.Rand) dc.Settings {
	s := dc.DefaultSettings()
	s.HorizontalM = []float64{0, 2000, 9260, 20000}[r.IntN(4)]
	s.VerticalM = []float64{0, 304.8, 1000}[r.IntN(3)]
	s.TimeS = []float64{0, 300, 3600}[r.IntN(3)]
	return s
}

func newAgreedWorld(t *testing.T, r *rand.Rand) *agreedWorld {
	m, clk := openOn(t, freshStore(t), agreedParties...)
	w := &agreedWorld{t: t, m: m, clk: clk, r: r, ops: map[string]*dc.Operation{},
		node:     map[string]string{"alpha": "", "bravo": "", "charlie": "k1", "echo": "k1", "delta": "k2"},
		settings: map[string]dc.Settings{"": randSettings(r), "k1": randSettings(r), "k2": randSettings(r)}}
	if _, err := m.Settings().Put(context.Background(), dc.Actor{Role: dc.RoleAdmin}, w.settings[""]); err != nil {
		t.Fatal(err)
	}
	s1, s2 := w.settings["k1"], w.settings["k2"]
	m.Federation().SetPeers([]*dc.Peer{
		{Key: "k1", Parties: []string{"charlie", "echo"}, Settings: &s1},
		{Key: "k2", Parties: []string{"delta"}, Settings: &s2},
	})
	return w
}

// pairMinima is the rule: two parties of one node are decided with its
// minima, of two nodes with the larger of the two nodes' on each axis.
func (w *agreedWorld) pairMinima(p, q string) geo.Minima {
	return geo.Stricter(geo.MinimaOf(w.settings[w.node[p]]), geo.MinimaOf(w.settings[w.node[q]]))
}

// randomVolumes returns a circle near (33.5, 36.3) over the next hours.
func (w *agreedWorld) randomVolumes() []dc.Volume4D {
	start := w.clk.Now().Add(2*time.Hour + time.Duration(w.r.IntN(300))*time.Minute)
	d := circleDecl(33.5+0.4*w.r.Float64(), 36.3+0.4*w.r.Float64(), start, start.Add(time.Duration(5+w.r.IntN(60))*time.Minute))
	lo := float64(w.r.IntN(4000))
	d.Volumes[0].Volume.AltitudeLower.Value = dc.Float(lo)
	d.Volumes[0].Volume.AltitudeUpper.Value = dc.Float(lo + 200 + float64(w.r.IntN(800)))
	return d.Volumes
}

// change declares, replaces or cancels one operation of a random party:
// this node's through Declare, the peers' as their logs would bring them.
func (w *agreedWorld) change() {
	w.t.Helper()
	ctx := context.Background()
	party := agreedParties[w.r.IntN(len(agreedParties))]
	var cur *dc.Operation
	for _, op := range w.ops {
		if op.Party == party && op.State.Live() && w.r.IntN(3) == 0 {
			cur = op
			break
		}
	}
	vols := w.randomVolumes()
	cancel := cur != nil && w.r.IntN(4) == 0
	if w.node[party] == "" {
		a := dc.Actor{Party: party, Role: dc.RoleOperator}
		var res *mechanism.Result
		var err error
		switch {
		case cur == nil:
			res, err = w.m.Declare(ctx, a, uuid.NewString(), mechanism.Declaration{Volumes: vols}, nil)
		case cancel:
			res, err = w.m.Cancel(ctx, a, cur.ID, &cur.Version)
		default:
			res, err = w.m.Declare(ctx, a, cur.ID, mechanism.Declaration{Volumes: vols}, &cur.Version)
		}
		if err != nil {
			w.t.Fatal(err)
		}
		w.ops[res.Operation.ID] = res.Operation
		return
	}
	now := w.clk.Now().UTC()
	op := &dc.Operation{ID: uuid.NewString(), Party: party, Version: 1, State: dc.StatePlanned, Volumes: vols, CreatedAt: now, UpdatedAt: now}
	if cur != nil {
		next := *cur
		next.Version++
		next.UpdatedAt = now
		if cancel {
			next.State = dc.StateCancelled
		} else {
			next.Volumes = vols
		}
		op = &next
	}
	origin := mechanism.PeerOrigin{Node: w.node[party], Index: w.entry, LeafHash: "test"}
	w.entry++
	a := dc.Actor{Party: party, Role: dc.RoleOperator}
	if err := w.m.Federation().ApplyPeerOperation(ctx, origin, a, op, func(dc.Tx) error { return nil }); err != nil {
		w.t.Fatal(err)
	}
	w.ops[op.ID] = op
}

func (w *agreedWorld) volumes(op *dc.Operation) []geo.Volume {
	vols, err := geo.ParseVolumes(op.Volumes, "volumes")
	if err != nil {
		w.t.Fatal(err)
	}
	return vols
}

// check compares the node's open conflicts with brute force over every
// pair of live operations of two parties, each under its pair's minima,
// and reports how many pairs the node's own minima alone would decide
// otherwise.
func (w *agreedWorld) check() (conflicts, otherwise int) {
	w.t.Helper()
	want := map[string]dc.Separation{}
	var live []*dc.Operation
	for _, op := range w.ops {
		if op.State.Live() {
			live = append(live, op)
		}
	}
	own := geo.MinimaOf(w.settings[""])
	for i, a := range live {
		for _, b := range live[i+1:] {
			if a.Party == b.Party {
				continue
			}
			sep, ok := geo.CompareOperations(w.volumes(a), w.volumes(b), w.pairMinima(a.Party, b.Party))
			if ok {
				want[pairOf(a.ID, b.ID)] = sep
			}
			if _, alone := geo.CompareOperations(w.volumes(a), w.volumes(b), own); alone != ok {
				otherwise++
			}
		}
	}
	got := map[string]dc.Separation{}
	f := dc.ConflictFilter{Statuses: []dc.ConflictStatus{dc.ConflictOpen}, Limit: 10000}
	cs, _, err := w.m.Conflicts(context.Background(), dc.Actor{Role: dc.RoleAdmin}, f)
	if err != nil {
		w.t.Fatal(err)
	}
	for _, c := range cs {
		got[pairOf(c.Operations[0], c.Operations[1])] = c.Separation
	}
	for k, sep := range want {
		if g, ok := got[k]; !ok {
			w.t.Fatalf("pair %s conflicts under its minima (separation %+v) but has no open conflict", k, sep)
		} else if g != sep {
			w.t.Fatalf("pair %s: separation %+v, want %+v", k, g, sep)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			w.t.Fatalf("pair %s has an open conflict but does not conflict under its minima", k)
		}
	}
	return len(want), otherwise
}

// checkWhatIf compares what-if checks of this node's parties (and of an
// admin, of no party) with brute force under each pair's minima.
func (w *agreedWorld) checkWhatIf() {
	w.t.Helper()
	vols := w.randomVolumes()
	q, err := geo.ParseVolumes(vols, "volumes")
	if err != nil {
		w.t.Fatal(err)
	}
	for _, a := range []dc.Actor{{Party: "alpha", Role: dc.RoleOperator}, {Role: dc.RoleAdmin}} {
		want := map[string]bool{}
		for _, op := range w.ops {
			if op.State.Live() && op.Party != a.Party {
				if _, ok := geo.CompareOperations(q, w.volumes(op), w.pairMinima("alpha", op.Party)); ok {
					want[op.ID] = true
				}
			}
		}
		hits, err := w.m.Check(context.Background(), a, vols)
		if err != nil {
			w.t.Fatal(err)
		}
		if len(hits) != len(want) {
			w.t.Fatalf("%v: what-if check found %d operations, want %d", a, len(hits), len(want))
		}
		for _, h := range hits {
			if !want[h.Operation.ID] {
				w.t.Fatalf("%v: what-if check found %s, which does not conflict under its pair's minima", a, h.Operation.ID)
			}
		}
	}
}

func pairOf(a, b string) string {
	if b < a {
		a, b = b, a
	}
	return a + " " + b
}

// TestAgreedMinimaMatchBruteForce: on a node whose peers' minima differ
// from its own, each pair of operations is decided with its pair's
// minima (the stricter of the two nodes'), in declarations searched
// ahead or in the batch, in operations received from peers and in
// what-if checks: the open conflicts are those of brute force.
func TestAgreedMinimaMatchBruteForce(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 19))
	var total, otherwise int
	for world := range 6 {
		w := newAgreedWorld(t, r)
		for round := range 6 {
			for range 25 {
				w.change()
			}
			c, o := w.check()
			total, otherwise = total+c, otherwise+o
			w.checkWhatIf()
			if t.Failed() {
				t.Fatalf("world %d, round %d", world, round)
			}
		}
		t.Logf("world %d: settings %v", world, fmt.Sprint(w.settings))
	}
	t.Logf("%d conflicts checked; %d pairs the node's own minima alone would decide otherwise", total, otherwise)
	if otherwise == 0 {
		t.Fatal("the peers' minima never changed a decision: the test proves nothing")
	}
}

// TestAgreedNotice: a declaration is short of notice under the longest
// notice_s of the node and the peers it trusts; a removed peer's notice
// no longer counts.
func TestAgreedNotice(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		peerNotice float64
		removed    bool
	}{{3600, false}, {7200, false}, {7200, true}} {
		peerNotice := c.peerNotice
		m, clk := mustOpen(t)
		s := dc.DefaultSettings() // notice_s 3600
		s.NoticeS = peerNotice
		m.Federation().SetPeers([]*dc.Peer{{Key: "k1", Parties: []string{"charlie"}, Settings: &s, Removed: c.removed}})
		start := clk.Now().Add(90 * time.Minute)
		res, err := m.Declare(ctx, dc.Actor{Party: "alpha", Role: dc.RoleOperator}, uuid.NewString(), circleDecl(33, 35, start, start.Add(time.Hour)), nil)
		if err != nil {
			t.Fatal(err)
		}
		evs, err := m.Events(ctx, dc.Actor{Role: dc.RoleAdmin}, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		short := false
		for _, e := range evs {
			short = short || (e.Type == dc.EventNoticeShort && e.Subject.ID == res.Operation.ID)
		}
		if want := peerNotice > 5400 && !c.removed; short != want {
			t.Errorf("peer notice_s %g (removed: %v): 90 minutes' notice is short: %v, want %v", peerNotice, c.removed, short, want)
		}
	}
}
