package mechanism_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/google/uuid"
)

// checkWorld is a mechanism with operations of three parties crowded
// around one spot, with private notes and callsigns (some shared), so
// that what-if checks find many of them.
type checkWorld struct {
	t   *testing.T
	m   *mechanism.Mechanism
	clk *clock
	r   *rand.Rand
	ops map[string]*dc.Operation // the live operations, as their party sees them
}

func newCheckWorld(t *testing.T) *checkWorld {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	m, clk := mustOpen(t)
	return &checkWorld{t: t, m: m, clk: clk, r: rand.New(rand.NewPCG(seed, seed)), ops: map[string]*dc.Operation{}}
}

// randomDecl returns a declaration near (33.5, 36.3) over the next hours,
// with notes, and a callsign shared or not.
func (w *checkWorld) randomDecl() mechanism.Declaration {
	start := w.clk.Now().Add(time.Hour + time.Duration(w.r.IntN(240))*time.Minute)
	d := circleDecl(33.5+0.3*w.r.Float64(), 36.3+0.3*w.r.Float64(), start, start.Add(time.Duration(10+w.r.IntN(120))*time.Minute))
	notes := "private <notes> & " + uuid.NewString()
	callsign := fmt.Sprintf("CS%04d", w.r.IntN(10000))
	d.Notes, d.Callsign, d.ShareCallsign = &notes, &callsign, w.r.IntN(2) == 0
	return d
}

// change declares, replaces or cancels one operation at random.
func (w *checkWorld) change() {
	w.t.Helper()
	ctx := context.Background()
	parties := []string{"alpha", "bravo", "charlie"}
	var id string
	for k := range w.ops {
		id = k
		break
	}
	switch k := w.r.IntN(4); {
	case id == "" || k == 0 || len(w.ops) < 20:
		p := parties[w.r.IntN(len(parties))]
		res, err := w.m.Declare(ctx, dc.Actor{Party: p, Role: dc.RoleOperator}, uuid.NewString(), w.randomDecl(), nil)
		if err != nil {
			w.t.Fatal(err)
		}
		w.ops[res.Operation.ID] = res.Operation
	case k == 1:
		op := w.ops[id]
		res, err := w.m.Cancel(ctx, dc.Actor{Party: op.Party, Role: dc.RoleOperator}, id, &op.Version)
		if err != nil {
			w.t.Fatal(err)
		}
		if res.Operation.State.Live() {
			w.t.Fatalf("cancelled operation %s is %s", id, res.Operation.State)
		}
		delete(w.ops, id)
	default: // a new version: other volumes, or only notes and callsign
		op := w.ops[id]
		d := w.randomDecl()
		if k == 2 {
			d.Volumes = op.Volumes
		}
		res, err := w.m.Declare(ctx, dc.Actor{Party: op.Party, Role: dc.RoleOperator}, id, d, &op.Version)
		if err != nil {
			w.t.Fatal(err)
		}
		w.ops[id] = res.Operation
	}
}

// checkers are the callers whose checks are compared: a party with no
// operations, an observer and an operator of parties with some, an admin.
var checkers = []dc.Actor{
	{Party: "delta", Role: dc.RoleOperator},
	{Party: "alpha", Role: dc.RoleObserver},
	{Party: "bravo", Role: dc.RoleOperator},
	{Role: dc.RoleAdmin},
}

// query returns the volumes of a what-if check over the crowded spot.
func (w *checkWorld) query() []dc.Volume4D {
	return w.randomDecl().Volumes
}

// compare checks that CheckEncoded answers exactly what Check answers
// (which reads every operation from the store): the same operations, in
// the same order, encoded the same, with the same separations.
func compare(t *testing.T, m *mechanism.Mechanism, a dc.Actor, vols []dc.Volume4D) int {
	t.Helper()
	ctx := context.Background()
	want, err := m.Check(ctx, a, vols)
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.CheckEncoded(ctx, a, vols, mechanism.CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := m.CheckEncoded(ctx, a, vols, mechanism.CheckOptions{IDsOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || len(ids) != len(want) {
		t.Fatalf("%v: CheckEncoded found %d, with IDs only %d, Check %d", a, len(got), len(ids), len(want))
	}
	for i := range want {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(want[i].Operation); err != nil {
			t.Fatal(err)
		}
		if w := bytes.TrimSuffix(buf.Bytes(), []byte("\n")); !bytes.Equal(got[i].Operation, w) {
			t.Fatalf("%v: hit %d:\n got %s\nwant %s", a, i, got[i].Operation, w)
		}
		if got[i].ID != want[i].Operation.ID || ids[i].ID != want[i].Operation.ID || ids[i].Operation != nil {
			t.Fatalf("%v: hit %d: IDs %s, %s (operation %q), want %s", a, i, got[i].ID, ids[i].ID, ids[i].Operation, want[i].Operation.ID)
		}
		if got[i].Separation != want[i].Separation || ids[i].Separation != want[i].Separation {
			t.Fatalf("%v: hit %d: separation %+v, %+v, want %+v", a, i, got[i].Separation, ids[i].Separation, want[i].Separation)
		}
		checkVisible(t, a, got[i].Operation)
	}
	return len(want)
}

// checkVisible fails if an encoded operation shows another party's notes
// or unshared callsign, or is not live.
func checkVisible(t *testing.T, a dc.Actor, b []byte) {
	t.Helper()
	var op dc.Operation
	if err := json.Unmarshal(b, &op); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if op.Party == a.Party {
		t.Fatalf("%v: a check listed the caller's own party's operation %s", a, op.ID)
	}
	if op.Notes != nil || strings.Contains(string(b), "private") {
		t.Fatalf("%v: sees the notes of %s: %s", a, op.ID, b)
	}
	if op.Callsign != nil && !op.ShareCallsign {
		t.Fatalf("%v: sees the unshared callsign of %s: %s", a, op.ID, b)
	}
	if !op.State.Live() {
		t.Fatalf("%v: a check listed %s operation %s", a, op.State, op.ID)
	}
}

// TestCheckEncodedSameAsStore checks that the views a what-if check keeps
// in memory give the answer a check that reads the store gives, also
// after operations are replaced (volumes, or only notes and callsign) and
// cancelled: every change reaches the kept views.
func TestCheckEncodedSameAsStore(t *testing.T) {
	w := newCheckWorld(t)
	for range 60 {
		w.change()
	}
	hits := 0
	for round := range 30 {
		for range 20 {
			vols := w.query()
			for _, a := range checkers {
				hits += compare(t, w.m, a, vols)
				hits += compare(t, w.m, a, vols) // the second from memory
			}
		}
		for range 10 + round {
			w.change()
		}
	}
	if hits < 1000 {
		t.Fatalf("only %d hits compared; the scenario should crowd the spot", hits)
	}
	if h, _ := w.m.Health().ViewCacheStats(); h == 0 {
		t.Fatal("no check found a view in memory")
	}
}

// TestCheckEncodedSameAsStoreAfterReload checks the kept views after the
// index is reloaded from the store.
func TestCheckEncodedSameAsStoreAfterReload(t *testing.T) {
	w := newCheckWorld(t)
	for range 40 {
		w.change()
	}
	vols := w.query()
	compare(t, w.m, checkers[0], vols)
	if err := w.m.Index().ReloadIndex(context.Background()); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		w.change()
	}
	for range 20 {
		vols := w.query()
		for _, a := range checkers {
			compare(t, w.m, a, vols)
		}
	}
}

// TestCheckEncodedConcurrent runs checks while operations change (run it
// with -race): every answer shows only what its caller may see, and once
// the changes stop, answers from memory equal answers from the store.
func TestCheckEncodedConcurrent(t *testing.T) {
	w := newCheckWorld(t)
	for range 40 {
		w.change()
	}
	queries := make([][]dc.Volume4D, 20)
	for i := range queries {
		queries[i] = w.query()
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := checkers[g%len(checkers)]
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				got, err := w.m.CheckEncoded(context.Background(), a, queries[i%len(queries)], mechanism.CheckOptions{})
				if err != nil {
					errs <- err
					return
				}
				for _, h := range got {
					var op dc.Operation
					if err := json.Unmarshal(h.Operation, &op); err != nil || op.ID != h.ID || op.Notes != nil || (op.Callsign != nil && !op.ShareCallsign) || op.Party == a.Party {
						errs <- fmt.Errorf("%v: hit %s shows %s (%v)", a, h.ID, h.Operation, err)
						return
					}
				}
			}
		}()
	}
	for range 300 {
		w.change()
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, q := range queries {
		for _, a := range checkers {
			compare(t, w.m, a, q)
		}
	}
}
