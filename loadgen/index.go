package loadgen

import (
	"fmt"
	"runtime"
	"time"

	"github.com/deconflict/deconflict/geo"
)

// IndexRun is what MeasureIndex found: the in-process conflict index
// loaded with a scenario's operations and asked its queries.
type IndexRun struct {
	Operations int `json:"operations"`
	Volumes    int `json:"volumes"`
	// LoadSeconds is the time to parse every operation's volumes and
	// insert them into a new index, as a server does when it starts.
	LoadSeconds float64 `json:"load_seconds"`
	// HeapBytes is the heap that parsed geometry and index take, after a
	// garbage collection; BytesPerOperation is that over Operations.
	HeapBytes         int64   `json:"heap_bytes"`
	BytesPerOperation float64 `json:"bytes_per_operation"`
	// Checks queries were each checked against every operation, one
	// after another on one goroutine; Latency is per check.
	Checks          int     `json:"checks"`
	ChecksPerSecond float64 `json:"checks_per_second"`
	Latency         Latency `json:"latency"`
	// HitsPerCheck is the mean number of conflicting operations a check
	// found; ChecksWithHits the fraction of checks that found any.
	HitsPerCheck   float64 `json:"hits_per_check"`
	ChecksWithHits float64 `json:"checks_with_hits"`
}

// LoadIndex parses the scenario's operations and inserts them into a new
// index, and reports the time it took and the heap it holds. It frees the
// generator's own index and geometry first.
func LoadIndex(s *Scenario) (*geo.Index, IndexRun, error) {
	s.Index, s.Parsed = nil, nil
	run := IndexRun{Operations: len(s.Operations)}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	t0 := time.Now()
	ix := geo.NewIndex()
	for i := range s.Operations {
		op := &s.Operations[i]
		vols, err := op.Parsed()
		if err != nil {
			return nil, run, fmt.Errorf("operation %s: %w", op.ID, err)
		}
		run.Volumes += len(vols)
		ix.Insert(op.ID, op.Party, vols)
	}
	run.LoadSeconds = time.Since(t0).Seconds()
	runtime.GC()
	runtime.ReadMemStats(&after)
	run.HeapBytes = int64(after.HeapAlloc) - int64(before.HeapAlloc)
	if run.Operations > 0 {
		run.BytesPerOperation = float64(run.HeapBytes) / float64(run.Operations)
	}
	return ix, run, nil
}

// MeasureChecks checks each query (parsed beforehand, not timed) against
// the index, as party QueryParty, and fills in run's check figures. It
// returns the hits of each query.
func MeasureChecks(ix *geo.Index, queries []Operation, m geo.Minima, run *IndexRun) ([][]geo.Hit, error) {
	parsed := make([][]geo.Volume, len(queries))
	for i := range queries {
		v, err := queries[i].Parsed()
		if err != nil {
			return nil, fmt.Errorf("query %s: %w", queries[i].ID, err)
		}
		parsed[i] = v
	}
	var h Histogram
	hits := make([][]geo.Hit, len(queries))
	withHits, total := 0, 0
	t0 := time.Now()
	for i := range parsed {
		c0 := time.Now()
		hits[i] = ix.Conflicts(parsed[i], m, QueryParty)
		h.Record(time.Since(c0))
		total += len(hits[i])
		if len(hits[i]) > 0 {
			withHits++
		}
	}
	el := time.Since(t0)
	run.Checks = len(queries)
	if run.Checks > 0 {
		run.ChecksPerSecond = float64(run.Checks) / el.Seconds()
		run.HitsPerCheck = float64(total) / float64(run.Checks)
		run.ChecksWithHits = float64(withHits) / float64(run.Checks)
	}
	run.Latency = h.Summary()
	return hits, nil
}
