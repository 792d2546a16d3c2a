package timing

import (
	"slices"
	"testing"
	"time"
)

func TestHistogram(t *testing.T) {
	var h Histogram
	for _, d := range []time.Duration{
		100 * time.Microsecond, 500 * time.Microsecond, // at most 0.5 ms: on the bound counts
		800 * time.Microsecond, 3 * time.Millisecond, 40 * time.Millisecond, 3 * time.Second, // the last past every bound
	} {
		h.Observe(d)
	}
	got := h.Timing("commit", "how long")
	if got.Name != "commit" || got.Count != 6 {
		t.Fatalf("name %q, count %d; want commit, 6", got.Name, got.Count)
	}
	want := []uint64{2, 3, 3, 4, 4, 4, 5, 5, 5, 5, 5, 5}
	if !slices.Equal(got.Counts, want) || !slices.Equal(got.Bounds, Bounds) {
		t.Fatalf("counts %v over bounds %v; want %v", got.Counts, got.Bounds, want)
	}
	if wantSum := 3.0444; got.Sum < wantSum-1e-9 || got.Sum > wantSum+1e-9 {
		t.Fatalf("sum %v s, want %v", got.Sum, wantSum)
	}
}
