package storetest

import (
	"bytes"
	"context"
	"reflect"
	"sync/atomic"
	"testing"

	"github.com/deconflict/deconflict"
)

// testLiveGeometries checks the optional deconflict.GeometryTx.
func testLiveGeometries(t *testing.T, f Factory) {
	s := f.Open(t)
	skipWithoutGeometry(t, s)
	planned := newOperation(1, "alpha", deconflict.StatePlanned, at(0), at(60), 3)
	active := newOperation(2, "bravo", deconflict.StateActive, at(10), at(70), 4)
	plain := newOperation(3, "alpha", deconflict.StatePlanned, at(20), at(80), 5)
	ended := newOperation(4, "bravo", deconflict.StateEnded, at(0), at(5), 6)
	cleared := newOperation(5, "charlie", deconflict.StateActive, at(0), at(90), 7)
	empty := newOperation(6, "charlie", deconflict.StatePlanned, at(0), at(90), 8)
	geoms := map[string][]byte{
		planned.ID: {1, 2, 3, 0, 255},
		active.ID:  bytes.Repeat([]byte{0, 7}, 5000),
		ended.ID:   {9},
		cleared.ID: {4},
		empty.ID:   {},
	}
	update(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		gtx := tx.(deconflict.GeometryTx)
		for _, op := range []*deconflict.Operation{planned, active, ended, cleared, empty} {
			if err := gtx.PutOperationGeometry(ctx, op, geoms[op.ID]); err != nil {
				return err
			}
		}
		if err := tx.PutOperation(ctx, plain); err != nil {
			return err
		}
		return tx.PutOperation(ctx, cleared) // clears its geometry
	})
	// A replace keeps the new geometry, not the old one.
	geoms[planned.ID] = []byte{42}
	update(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		return tx.(deconflict.GeometryTx).PutOperationGeometry(ctx, planned, geoms[planned.ID])
	})
	got := map[string]*deconflict.LiveGeometry{}
	view(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		return tx.(deconflict.GeometryTx).LiveGeometries(ctx, func(g *deconflict.LiveGeometry) error {
			if got[g.ID] != nil {
				t.Errorf("LiveGeometries gave %s twice", g.ID)
			}
			got[g.ID] = g
			return nil
		})
	})
	if len(got) != 5 {
		t.Errorf("LiveGeometries gave %d operations, want 5 (every live one)", len(got))
	}
	for _, op := range []*deconflict.Operation{planned, active, empty} {
		g := got[op.ID]
		if g == nil {
			t.Errorf("operation %s missing", op.ID)
			continue
		}
		if g.Party != op.Party || g.Operation != nil || g.Geometry == nil || !bytes.Equal(g.Geometry, geoms[op.ID]) {
			t.Errorf("operation %s: got party %q, geometry %v (nil: %t), operation %v; want %q, %v", op.ID,
				g.Party, g.Geometry, g.Geometry == nil, g.Operation, op.Party, geoms[op.ID])
		}
	}
	for _, op := range []*deconflict.Operation{plain, cleared} {
		g := got[op.ID]
		if g == nil {
			t.Errorf("operation %s missing", op.ID)
			continue
		}
		if g.Party != op.Party || g.Geometry != nil || !reflect.DeepEqual(g.Operation, wantOperation(op)) {
			t.Errorf("operation %s: got party %q, geometry %v, operation\n%+v\nwant %q, no geometry,\n%+v", op.ID,
				g.Party, g.Geometry, g.Operation, op.Party, wantOperation(op))
		}
	}
	// A stored geometry does not change what Operation gives.
	if op := getOperation(t, s, active.ID); !reflect.DeepEqual(op, wantOperation(active)) {
		t.Errorf("Operation(%s) = %+v, want %+v", active.ID, op, wantOperation(active))
	}
}

// testLiveGeometriesMany checks LiveGeometries over enough operations for a
// store to split the walk (the SQLite store reads ranges on several
// connections): every live operation once, nothing else, and fn never
// called by two goroutines at once.
func testLiveGeometriesMany(t *testing.T, f Factory) {
	if testing.Short() {
		t.Skip("stores 6,000 operations")
	}
	s := f.Open(t)
	skipWithoutGeometry(t, s)
	const n = 6000
	want := map[string]bool{} // live operation → stored with a geometry
	update(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		gtx := tx.(deconflict.GeometryTx)
		for i := range n {
			state := deconflict.StatePlanned
			if i%3 == 0 {
				state = deconflict.StateEnded
			}
			op := newOperation(i, "alpha", state, at(0), at(60), int64(i+1))
			withGeom := i%2 == 0
			var err error
			if withGeom {
				err = gtx.PutOperationGeometry(ctx, op, []byte{byte(i), byte(i >> 8)})
			} else {
				err = tx.PutOperation(ctx, op)
			}
			if err != nil {
				return err
			}
			if state.Live() {
				want[op.ID] = withGeom
			}
		}
		return nil
	})
	var inFn atomic.Int32
	got := map[string]bool{}
	view(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		return tx.(deconflict.GeometryTx).LiveGeometries(ctx, func(g *deconflict.LiveGeometry) error {
			if inFn.Add(1) > 1 {
				t.Error("LiveGeometries called fn from two goroutines at once")
			}
			defer inFn.Add(-1)
			if _, dup := got[g.ID]; dup {
				t.Errorf("LiveGeometries gave %s twice", g.ID)
			}
			got[g.ID] = g.Geometry != nil
			if (g.Geometry == nil) == (g.Operation == nil) {
				t.Errorf("%s: want exactly one of geometry and operation", g.ID)
			}
			return nil
		})
	})
	if len(got) != len(want) {
		t.Errorf("LiveGeometries gave %d operations, want %d", len(got), len(want))
	}
	for id, withGeom := range want {
		if g, ok := got[id]; !ok {
			t.Errorf("live operation %s missing", id)
		} else if g != withGeom {
			t.Errorf("%s: geometry given %v, stored %v", id, g, withGeom)
		}
	}
}

// testGeometriesSince checks the optional deconflict.GeometriesSinceTx
// against OperationsSince: the same operations for every rev, live ones
// with the geometry kept (or the operation), the others flagged not live.
func testGeometriesSince(t *testing.T, f Factory) {
	s := f.Open(t)
	skipUnless[deconflict.GeometriesSinceTx](t, s, "deconflict.GeometriesSinceTx")
	states := []deconflict.State{deconflict.StatePlanned, deconflict.StateActive, deconflict.StateEnded, deconflict.StateCancelled}
	geoms := map[string][]byte{}
	update(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		gtx := tx.(deconflict.GeometryTx)
		for i := range 40 {
			op := newOperation(i, []string{"alpha", "bravo"}[i%2], states[i%4], at(0), at(60), int64(10+i))
			if i%3 == 0 {
				if err := tx.PutOperation(ctx, op); err != nil {
					return err
				}
				continue
			}
			geoms[op.ID] = []byte{byte(i), 1, 2}
			if err := gtx.PutOperationGeometry(ctx, op, geoms[op.ID]); err != nil {
				return err
			}
		}
		return nil
	})
	for _, rev := range []int64{0, 9, 10, 25, 49, 60} {
		want := map[string]*deconflict.Operation{}
		got := map[string]*deconflict.LiveGeometry{}
		live := map[string]bool{}
		view(t, s, func(ctx context.Context, tx deconflict.Tx) error {
			if err := tx.OperationsSince(ctx, rev, false, func(op *deconflict.Operation) error {
				want[op.ID] = op
				return nil
			}); err != nil {
				return err
			}
			return tx.(deconflict.GeometriesSinceTx).GeometriesSince(ctx, rev, func(g *deconflict.LiveGeometry, l bool) error {
				if got[g.ID] != nil {
					t.Errorf("rev %d: %s given twice", rev, g.ID)
				}
				got[g.ID], live[g.ID] = g, l
				return nil
			})
		})
		if len(got) != len(want) {
			t.Errorf("rev %d: GeometriesSince gave %d operations, OperationsSince %d", rev, len(got), len(want))
		}
		for id, op := range want {
			g := got[id]
			switch {
			case g == nil:
				t.Errorf("rev %d: %s missing", rev, id)
			case g.Party != op.Party || live[id] != op.State.Live():
				t.Errorf("rev %d: %s: party %q live %t, want %q %t", rev, id, g.Party, live[id], op.Party, op.State.Live())
			case !live[id] && (g.Geometry != nil || g.Operation != nil):
				t.Errorf("rev %d: %s is not live but comes with its geometry or operation", rev, id)
			case live[id] && geoms[id] != nil && !bytes.Equal(g.Geometry, geoms[id]):
				t.Errorf("rev %d: %s: geometry %v, want %v", rev, id, g.Geometry, geoms[id])
			case live[id] && geoms[id] == nil && !reflect.DeepEqual(g.Operation, op):
				t.Errorf("rev %d: %s: operation\n%+v\nwant\n%+v", rev, id, g.Operation, op)
			}
		}
	}
}

// skipWithoutGeometry skips the test if the store does not keep compact
// geometries (the optional deconflict.GeometryTx).
func skipWithoutGeometry(t *testing.T, s deconflict.Store) {
	t.Helper()
	skipUnless[deconflict.GeometryTx](t, s, "deconflict.GeometryTx")
}

// skipUnless skips the test if the store's transactions do not implement
// the optional interface T, named what.
func skipUnless[T any](t *testing.T, s deconflict.Store, what string) {
	t.Helper()
	supported := true
	view(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		_, supported = tx.(T)
		return nil
	})
	if !supported {
		t.Skip("the store does not implement " + what)
	}
}
