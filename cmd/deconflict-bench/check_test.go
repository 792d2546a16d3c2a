package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBenchCheck runs --mode check on a small store: loads with each
// client count, over both HTTP clients, a profile of the server, and the
// store kept for the next run; with DECONFLICT_TEST_POSTGIS set, the
// agreement with PostGIS and its loads too.
func TestBenchCheck(t *testing.T) {
	bin, err := serverBinaryOnce()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pg := os.Getenv("DECONFLICT_TEST_POSTGIS")
	// One scenario for both runs, even if midnight UTC falls between
	// them: the default start, the next midnight, names the store.
	start := time.Now().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour).Format(time.RFC3339)
	for i, client := range []string{"raw", "net/http"} {
		out := filepath.Join(dir, "check.json")
		var stderr strings.Builder
		m := &Main{Stdout: io.Discard, Stderr: &stderr, Getenv: func(string) string { return "" }}
		args := []string{"--mode", "check", "--deconflict", bin, "--ops", "400", "--queries", "50", "--near", "1",
			"--duration", "300ms", "--check-clients", "2,1", "--client", client, "--dir", dir, "--out", out, "--start", start,
			"--profile", filepath.Join(dir, "profiles")}
		if pg != "" {
			args = append(args, "--postgis", pg, "--schema", "bench_check_test")
		}
		if code := m.Run(t.Context(), args); code != 0 {
			t.Fatalf("%s: bench exited with %d: %s", client, code, stderr.String())
		}
		if reused := strings.Contains(stderr.String(), "using the store"); reused != (i > 0) {
			t.Fatalf("%s: store reused %v, want %v:\n%s", client, reused, i > 0, stderr.String())
		}
		r := readResult(t, out)
		want := 2
		if pg != "" {
			want = 4
			if !strings.Contains(stderr.String(), "agree with PostGIS") {
				t.Fatalf("no agreement reported:\n%s", stderr.String())
			}
		}
		if len(r.Loads) != want {
			t.Fatalf("%s: %d loads, want %d: %+v", client, len(r.Loads), want, r.Loads)
		}
		for _, ld := range r.Loads {
			if ld.Requests == 0 || ld.Errors != 0 || ld.PerSecond <= 0 || ld.Latency.P50 <= 0 || ld.ConflictsPerCheck <= 0 {
				t.Fatalf("%s: load %+v", client, ld)
			}
		}
		for _, c := range []string{"1", "2"} {
			if fi, err := os.Stat(filepath.Join(dir, "profiles", "check-400-c"+c+".pprof")); err != nil || fi.Size() == 0 {
				t.Fatalf("no profile of the load with %s clients: %v", c, err)
			}
		}
	}
}

// TestBenchCheckFloor: with --floor, each load of checks is followed by
// the same load against floor-serve, a process of its own answering as
// many bytes as the server did.
func TestBenchCheckFloor(t *testing.T) {
	bin, err := serverBinaryOnce()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "check.json")
	var stderr strings.Builder
	m := &Main{Stdout: io.Discard, Stderr: &stderr, Getenv: func(string) string { return "" }}
	args := []string{"--mode", "check", "--deconflict", bin, "--ops", "400", "--queries", "50", "--near", "1",
		"--duration", "500ms", "--check-clients", "2,1", "--floor", "--dir", dir, "--out", out}
	if code := m.Run(t.Context(), args); code != 0 {
		t.Fatalf("bench exited with %d: %s", code, stderr.String())
	}
	r := readResult(t, out)
	if len(r.Loads) != 4 {
		t.Fatalf("%d loads, want 4 (checks and floor, 2 clients then 1): %+v", len(r.Loads), r.Loads)
	}
	for i, c := range []int{2, 1} {
		check, floor := r.Loads[2*i], r.Loads[2*i+1]
		if !strings.HasPrefix(floor.Name, "floor") || floor.Clients != c || check.Clients != c {
			t.Fatalf("loads %d and %d: %q with %d clients, %q with %d; want the checks then the floor, %d clients",
				2*i, 2*i+1, check.Name, check.Clients, floor.Name, floor.Clients, c)
		}
		if floor.Requests == 0 || floor.Errors != 0 || floor.Latency.P50 <= 0 {
			t.Fatalf("floor load %+v", floor)
		}
		if d := floor.BytesPerAnswer - r.Loads[0].BytesPerAnswer; d < -1 || d > 1 {
			t.Fatalf("floor answers %.0f bytes, the server %.0f", floor.BytesPerAnswer, r.Loads[0].BytesPerAnswer)
		}
	}
}
