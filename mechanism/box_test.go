package mechanism_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/geo"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/google/uuid"
)

// TestOperationsByBox checks that a list by box, which the index narrows
// to candidates, lists exactly the operations a scan of every operation
// finds meeting the box — also for operations another process declared,
// changed or cancelled, which this process's index has not seen yet.
func TestOperationsByBox(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 1))
	m1, m2, clk := twoProcesses(t)
	ctx := context.Background()
	type op struct {
		id, party string
		version   int
	}
	var ops []op
	declare := func(m *mechanism.Mechanism) {
		start := clk.Now().Add(time.Duration(60+r.IntN(48*60)) * time.Minute)
		d := circleDecl(30+6*r.Float64(), 30+10*r.Float64(), start, start.Add(time.Hour))
		if r.IntN(2) == 0 {
			lat, lng := 30+6*r.Float64(), 30+10*r.Float64()
			d.Volumes[0].Volume.OutlineCircle = nil
			d.Volumes[0].Volume.OutlinePolygon = &dc.Polygon{Vertices: []dc.LatLng{
				{Lat: dc.Float(lat), Lng: dc.Float(lng)}, {Lat: dc.Float(lat + 0.3), Lng: dc.Float(lng + 0.05)}, {Lat: dc.Float(lat + 0.1), Lng: dc.Float(lng + 0.4)}}}
		}
		party := []string{"alpha", "bravo"}[r.IntN(2)]
		o := op{party: party}
		if len(ops) > 0 && r.IntN(3) == 0 { // a new version of an earlier one
			i := r.IntN(len(ops))
			o = ops[i]
			res, err := m.Declare(ctx, dc.Actor{Party: o.party, Role: dc.RoleOperator}, o.id, d, &o.version)
			if dc.ErrorCode(err) == dc.EInvalidTransition || dc.ErrorCode(err) == dc.EVersionMismatch {
				return
			} else if err != nil {
				t.Fatal(err)
			}
			ops[i].version = res.Operation.Version
			return
		}
		if len(ops) > 0 && r.IntN(8) == 0 {
			o = ops[r.IntN(len(ops))]
			_, err := m.Cancel(ctx, dc.Actor{Party: o.party, Role: dc.RoleOperator}, o.id, nil)
			if err != nil && dc.ErrorCode(err) != dc.EInvalidTransition {
				t.Fatal(err)
			}
			return
		}
		o.id = uuid.NewString()
		res, err := m.Declare(ctx, dc.Actor{Party: party, Role: dc.RoleOperator}, o.id, d, nil)
		if err != nil {
			t.Fatal(err)
		}
		o.version = res.Operation.Version
		ops = append(ops, o)
	}
	observer := dc.Actor{Party: "alpha", Role: dc.RoleObserver}
	// want lists by scanning every operation, as a list without a box does.
	want := func(b *mechanism.BBox, states []dc.State, start, end time.Time) []string {
		box := b.Rect()
		all, _, err := m1.Operations(ctx, observer, mechanism.OperationQuery{States: states, Start: start, End: end, Limit: 10000})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, o := range all {
			vols, err := geo.ParseVolumes(o.Volumes, "volumes")
			if err != nil {
				t.Fatal(err)
			}
			if slices.ContainsFunc(vols, func(v geo.Volume) bool { return v.Footprint.IntersectsRect(box) }) {
				ids = append(ids, o.ID)
			}
		}
		return ids
	}
	for round := range 8 {
		for range 40 {
			declare(m1)
		}
		for range 10 + 5*round { // another process: m1 has not seen these
			declare(m2)
		}
		for range 20 {
			lat, lng := 30+6*r.Float64(), 30+10*r.Float64()
			half := (0.05 + 3*r.Float64()) / 2
			box := &mechanism.BBox{MinLng: lng - half, MinLat: lat - half, MaxLng: lng + half, MaxLat: lat + half}
			// No window, an hour, and one that begins where an
			// operation ends.
			from := clk.Now().Add(time.Duration(r.IntN(50*60)) * time.Minute)
			windows := [][2]time.Time{{}, {from, from.Add(time.Hour)}}
			if len(ops) > 0 {
				o, err := m1.Operation(ctx, observer, ops[r.IntN(len(ops))].id)
				if err != nil {
					t.Fatal(err)
				}
				windows = append(windows, [2]time.Time{o.Operation.End, o.Operation.End.Add(time.Hour)})
			}
			for _, states := range [][]dc.State{nil, {dc.StateActive}, {dc.StatePlanned, dc.StateCancelled}} {
				for _, win := range windows {
					w := want(box, states, win[0], win[1])
					for _, limit := range []int{3, 1000} {
						var got []string
						after := ""
						for {
							page, next, err := m1.Operations(ctx, observer, mechanism.OperationQuery{BBox: box, States: states, Start: win[0], End: win[1], Limit: limit, After: after})
							if err != nil {
								t.Fatal(err)
							}
							for _, o := range page {
								got = append(got, o.ID)
							}
							if next == "" {
								break
							}
							after = next
						}
						if !slices.Equal(got, w) {
							t.Fatalf("box %v, states %v, window %v, limit %d:\n got %v\nwant %v", box, states, win, limit, got, w)
						}
					}
				}
			}
		}
	}
}
