package geo

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/deconflict/deconflict"
)

// countdownCtx is a context that ends after its Err has been asked n
// times: a request whose client hangs up in the middle of the work.
type countdownCtx struct {
	context.Context
	left  atomic.Int64
	asked atomic.Int64
}

func newCountdown(n int64) *countdownCtx {
	c := &countdownCtx{Context: context.Background()}
	c.left.Store(n)
	return c
}

func (c *countdownCtx) Err() error {
	c.asked.Add(1)
	if c.left.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

// Parsing many large volumes stops at the next volume once the request
// ends.
func TestParseVolumesStopsWhenTheRequestEnds(t *testing.T) {
	var vols []deconflict.Volume4D
	for range deconflict.MaxVolumes {
		v := validVolumes()[0]
		v.Volume.OutlinePolygon = regular(10, 10, 1, 2000)
		vols = append(vols, v)
	}
	ctx := newCountdown(3)
	if _, err := ParseVolumesContext(ctx, vols, "volumes"); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if n := ctx.asked.Load(); n != 4 {
		t.Fatalf("the context was asked %d times: parsing went on past the 4th volume", n)
	}
	if _, err := ParseVolumesContext(context.Background(), vols, "volumes"); err != nil {
		t.Fatal(err)
	}
}

// A search stops comparing candidates once the request ends.
func TestConflictsStopsWhenTheRequestEnds(t *testing.T) {
	r := newRand(t)
	ix := NewIndex()
	center := fromDegrees(33.5, 36.3)
	for i := range 1000 {
		ix.Insert(fmt.Sprint("op", i), fmt.Sprint("g", i%3), randOp(t, r, center, 5_000))
	}
	m := Minima{HorizontalM: 9260, VerticalM: 304.8, TimeS: 300}
	// The test needs a query with enough hits for the context to be
	// asked during the search; most random operations have fewer, so
	// draw until one has.
	var q []Volume
	var want []Hit
	for range 10_000 {
		q = randOp(t, r, center, 5_000)
		if want = ix.Conflicts(q, m, ""); len(want) >= 2*ctxEvery {
			break
		}
	}
	if len(want) < 2*ctxEvery {
		t.Fatalf("only %d hits; the test needs more candidates", len(want))
	}
	got, err := ix.ConflictsContext(context.Background(), q, m, "")
	if err != nil || len(got) != len(want) {
		t.Fatalf("ConflictsContext: %d hits, %v; want %d", len(got), err, len(want))
	}
	ctx := newCountdown(int64(len(q)) + 1)
	if _, err := ix.ConflictsContext(ctx, q, m, ""); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if n := ctx.asked.Load(); n != int64(len(q))+2 {
		t.Fatalf("the context was asked %d times, want %d", n, len(q)+2)
	}
}
