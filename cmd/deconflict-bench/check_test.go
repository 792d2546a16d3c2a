package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	for i, client := range []string{"raw", "net/http"} {
		out := filepath.Join(dir, "check.json")
		var stderr strings.Builder
		m := &Main{Stdout: io.Discard, Stderr: &stderr, Getenv: func(string) string { return "" }}
		args := []string{"--mode", "check", "--deconflict", bin, "--ops", "400", "--queries", "50", "--near", "1",
			"--duration", "300ms", "--check-clients", "2,1", "--client", client, "--dir", dir, "--out", out,
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
