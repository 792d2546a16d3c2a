package mechanism_test

import (
	"context"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/google/uuid"
)

// TestLoadFromGeometry checks that a restarted mechanism, which loads its
// index from the stored compact geometries, answers checks as the one that
// declared the operations, also after some were cancelled.
func TestLoadFromGeometry(t *testing.T) {
	ctx := context.Background()
	m, clk := mustOpen(t)
	rng := rand.New(rand.NewPCG(7, 7))
	actors := []dc.Actor{{Party: "alpha", Role: dc.RoleOperator}, {Party: "bravo", Role: dc.RoleOperator}}
	decl := func() mechanism.Declaration {
		start := clk.Now().Add(time.Duration(1+rng.IntN(6*60)) * time.Minute)
		return circleDecl(33+rng.Float64(), 35+rng.Float64(), start, start.Add(time.Duration(10+rng.IntN(120))*time.Minute))
	}
	var ids []string
	for i := range 200 {
		id := uuid.NewString()
		if _, err := m.Declare(ctx, actors[i%2], id, decl(), nil); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	for i := 0; i < len(ids); i += 7 {
		if _, err := m.Cancel(ctx, actors[i%2], ids[i], nil); err != nil {
			t.Fatal(err)
		}
	}
	restarted := mechanism.New(m.Store(), mechanism.Options{Now: clk.Now})
	if err := restarted.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := restarted.Index().LiveOperations(), m.Index().LiveOperations(); got != want {
		t.Fatalf("restarted: %d live operations, want %d", got, want)
	}
	observer := dc.Actor{Party: "charlie", Role: dc.RoleOperator}
	hits := 0
	for range 50 {
		q := decl().Volumes
		got, err := restarted.Check(ctx, observer, q)
		if err != nil {
			t.Fatal(err)
		}
		want, err := m.Check(ctx, observer, q)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("restarted check:\n got %v\nwant %v", got, want)
		}
		hits += len(got)
	}
	if hits == 0 {
		t.Fatal("no check found anything: the test proves nothing")
	}
	t.Logf("%d hits", hits)
}
