package loadgen

import (
	"context"
	"encoding/json"
	"math"
	"reflect"
	"sync"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/geo"
)

var testStart = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func TestSameSeedSameScenario(t *testing.T) {
	cfg := Config{Seed: 42, Operations: 300, Queries: 50, ConflictRate: 0.2, Start: testStart}
	a, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ja, _ := json.Marshal([]any{a.Operations, a.Queries})
	jb, _ := json.Marshal([]any{b.Operations, b.Queries})
	if string(ja) != string(jb) {
		t.Fatal("the same seed gave two different scenarios")
	}
	cfg.Seed = 43
	c, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(a.Operations[0].Volumes, c.Operations[0].Volumes) {
		t.Fatal("seeds 42 and 43 gave the same first operation")
	}
}

// TestScenarioShape checks what the scenario promises: valid volumes of
// 1 to 100 km across, bands within 0 to 14.2 km, windows of 5 minutes to 6
// hours within a week of the start (give or take the shift of a planted
// operation), parties in turn.
func TestScenarioShape(t *testing.T) {
	s, err := Generate(Config{Seed: 7, Operations: 600, ConflictRate: 0.1, Start: testStart})
	if err != nil {
		t.Fatal(err)
	}
	circles, polygons := 0, 0
	for i, op := range s.Operations {
		if want := DefaultParties[i%3]; op.Party != want {
			t.Fatalf("operation %d of party %s, want %s", i, op.Party, want)
		}
		vols, err := op.Parsed()
		if err != nil {
			t.Fatalf("operation %d does not parse: %v", i, err)
		}
		if len(vols) < 1 || len(vols) > 3 {
			t.Fatalf("operation %d has %d volumes", i, len(vols))
		}
		for j, v := range vols {
			if w := op.Volumes[j].Volume.OutlineCircle; w != nil {
				circles++
				if r := *w.Radius.Value; r < 499 || r > 50_001 {
					t.Fatalf("radius %v", r)
				}
			} else {
				polygons++
			}
			if v.LowerM < 0 || v.UpperM > 14_200 || v.UpperM-v.LowerM < 150 {
				t.Fatalf("band %v..%v", v.LowerM, v.UpperM)
			}
			d := v.End.Sub(v.Start)
			if d < 5*time.Minute-time.Second || d > 6*time.Hour {
				t.Fatalf("window of %v", d)
			}
			if v.Start.Before(testStart.Add(-6*time.Hour)) || v.End.After(testStart.Add(7*24*time.Hour+24*time.Hour)) {
				t.Fatalf("window %v..%v outside the week", v.Start, v.End)
			}
		}
	}
	if circles < 200 || polygons < 200 {
		t.Fatalf("%d circles and %d polygons: want about as many of each", circles, polygons)
	}
}

// TestConflictRate checks the knob against brute force: the fraction of
// operations that conflict with an earlier one of another party, by
// comparing every pair, is close to the rate asked for.
func TestConflictRate(t *testing.T) {
	m := geo.MinimaOf(dc.DefaultSettings())
	for _, want := range []float64{0, 0.05, 0.3} {
		s, err := Generate(Config{Seed: 11, Operations: 800, Queries: 200, ConflictRate: want, Start: testStart})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for i := range s.Operations {
			found := false
			for j := 0; j < i && !found; j++ {
				if s.Operations[j].Party == s.Operations[i].Party {
					continue
				}
				_, found = geo.CompareOperations(s.Parsed[i], s.Parsed[j], m)
			}
			if found != s.Operations[i].Conflicts {
				t.Fatalf("rate %v: operation %d: brute force says conflict %v, generator %v", want, i, found, s.Operations[i].Conflicts)
			}
			if found {
				n++
			}
		}
		got := float64(n) / float64(len(s.Operations))
		// Binomial spread of 800 draws is at most 1.6 points; allow 3.5
		// sigma, plus one point for clean operations that could not be
		// placed away from everything.
		if tol := 3.5*math.Sqrt(want*(1-want)/800) + 0.01; math.Abs(got-want) > tol {
			t.Errorf("conflict rate %v: got %.3f (tolerance %.3f)", want, got, tol)
		}
		if q := s.QueryConflictRate(); math.Abs(q-want) > 3.5*math.Sqrt(want*(1-want)/200)+0.02 {
			t.Errorf("conflict rate %v: queries got %.3f", want, q)
		}
		t.Logf("rate %v: operations %.3f, queries %.3f", want, got, s.QueryConflictRate())
	}
}

func TestPercentiles(t *testing.T) {
	var h Histogram
	// 1..1000 ms in a shuffled order.
	for i := range 1000 {
		h.Record(time.Duration((i*7919)%1000+1) * time.Millisecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 500}, {90, 900}, {99, 990}, {99.9, 999}, {100, 1000}, {0.1, 1}, {29, 290}} {
		if got := h.Percentile(c.p); got != c.want*time.Millisecond {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want*time.Millisecond)
		}
	}
	if got := h.Mean(); got != 500500*time.Microsecond {
		t.Errorf("mean = %v", got)
	}
	var small Histogram
	for _, ms := range []int{30, 10, 20} {
		small.Record(time.Duration(ms) * time.Millisecond)
	}
	s := small.Summary()
	if s.P50 != 20 || s.P90 != 30 || s.P99 != 30 || s.Max != 30 || s.Count != 3 || s.Mean != 20 {
		t.Errorf("summary of 10, 20, 30 ms = %+v", s)
	}
	var merged Histogram
	merged.Merge(&small)
	merged.Record(40 * time.Millisecond)
	if got := merged.Percentile(50); got != 20*time.Millisecond {
		t.Errorf("merged p50 = %v", got)
	}
	var empty Histogram
	if empty.Percentile(99) != 0 || empty.Mean() != 0 {
		t.Error("empty histogram")
	}
}

func TestIndexRun(t *testing.T) {
	s, err := Generate(Config{Seed: 3, Operations: 500, Queries: 100, ConflictRate: 0.2, Start: testStart})
	if err != nil {
		t.Fatal(err)
	}
	ix, run, err := LoadIndex(s)
	if err != nil {
		t.Fatal(err)
	}
	if ix.Len() != 500 || run.Operations != 500 || run.Volumes < 500 || run.BytesPerOperation <= 0 {
		t.Fatalf("run %+v, index of %d", run, ix.Len())
	}
	hits, err := MeasureChecks(ix, s.Queries, geo.MinimaOf(dc.DefaultSettings()), &run)
	if err != nil {
		t.Fatal(err)
	}
	for i, q := range s.Queries {
		if got := len(hits[i]) > 0; got != q.Conflicts {
			t.Errorf("query %d: index found %d hits, generator said conflict %v", i, len(hits[i]), q.Conflicts)
		}
	}
	if run.Checks != 100 || run.Latency.Count != 100 || run.Latency.P50 <= 0 {
		t.Fatalf("run %+v", run)
	}
}

// TestRunForSlowRequests: requests slower than the whole load are
// waited for once per client and counted, not cancelled into a load of
// none; later ones are cut at the end.
func TestRunForSlowRequests(t *testing.T) {
	var mu sync.Mutex
	started := 0
	slow := func(ctx context.Context, worker, i int) (int, int, error) {
		mu.Lock()
		started++
		mu.Unlock()
		select {
		case <-time.After(50 * time.Millisecond):
			return 1, 10, nil
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		}
	}
	ld := RunFor(t.Context(), "slow", 3, 5*time.Millisecond, slow)
	if ld.Requests != 3 || ld.Errors != 0 || ld.ConflictsPerCheck != 1 || ld.Latency.P50 <= 0 {
		t.Fatalf("a load of 3 clients whose requests outlast it: %+v", ld)
	}
	if started != 3 {
		t.Fatalf("%d requests started after the end of the load, want none", started-3)
	}
}
