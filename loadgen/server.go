package loadgen

import (
	"bufio"
	"context"
	"net/http"
	"strconv"
	"strings"
)

// ServerView is what the server's own metrics say about a phase: how its
// single writer and its store kept up. It is left out when the server's
// /metrics could not be read.
type ServerView struct {
	// Batches are the group commits the phase's writes took, and
	// WritesPerBatch how many writes each carried on average.
	Batches        float64 `json:"batches"`
	WritesPerBatch float64 `json:"writes_per_batch"`
	// WriterBusy is the share of the phase's time a batch was running:
	// near 1, the single writer is the limit.
	WriterBusy float64 `json:"writer_busy"`
	// CommitMeanMS is the mean time of the store's commits (with the
	// flush to disk); CheckpointMeanMS that of SQLite's background
	// checkpoints, 0 where there are none.
	CommitMeanMS     float64 `json:"commit_mean_ms"`
	CheckpointMeanMS float64 `json:"checkpoint_mean_ms"`
}

// ServerCounters are the deconflict_ samples of a server's /metrics, its
// heap (go_memstats_heap_alloc_bytes) and its garbage collections
// (go_gc_duration_seconds_count), by name as written there (labels
// included).
type ServerCounters map[string]float64

// scrape reads the runner's server's counters; nil if it cannot.
func (r *Runner) scrape(ctx context.Context) ServerCounters {
	return ScrapeServer(ctx, r.client(), r.Server)
}

// ScrapeServer reads the counters of the server at base (such as
// http://127.0.0.1:8080) from its /metrics; nil if it cannot.
func ScrapeServer(ctx context.Context, client *http.Client, base string) ServerCounters {
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimSuffix(base, "/")+"/metrics", nil)
	if err != nil {
		return nil
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	c := ServerCounters{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || !(strings.HasPrefix(name, "deconflict_") || name == "go_memstats_heap_alloc_bytes" || name == "go_gc_duration_seconds_count") {
			continue
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			c[name] = v
		}
	}
	if sc.Err() != nil {
		return nil
	}
	return c
}

// ServerViewOf returns what changed between two scrapes seconds apart;
// nil if either is missing or no batch ran.
func ServerViewOf(before, after ServerCounters, seconds float64) *ServerView {
	if before == nil || after == nil || seconds <= 0 {
		return nil
	}
	d := func(name string) float64 { return after[name] - before[name] }
	mean := func(metric string) float64 {
		if n := d(metric + "_count"); n > 0 {
			return 1000 * d(metric+"_sum") / n
		}
		return 0
	}
	batches := d("deconflict_write_batches_total")
	if batches <= 0 {
		return nil
	}
	return &ServerView{
		Batches:          batches,
		WritesPerBatch:   d("deconflict_batched_writes_total") / batches,
		WriterBusy:       d("deconflict_write_batch_seconds_total") / seconds,
		CommitMeanMS:     mean("deconflict_store_commit_seconds"),
		CheckpointMeanMS: mean("deconflict_store_checkpoint_seconds"),
	}
}
