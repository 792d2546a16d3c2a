package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	dc "github.com/deconflict/deconflict"
	dchttp "github.com/deconflict/deconflict/http"
	"github.com/deconflict/deconflict/loadgen"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/sqlite"
)

// testServer is a deconflict server in process on a fresh SQLite store.
type testServer struct {
	base, store string
	mech        *mechanism.Mechanism
}

func startTestServer(t *testing.T) *testServer {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bench.db")
	st, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	mech := mechanism.New(st, mechanism.Options{})
	if err := mech.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(dchttp.NewServer(mech, dchttp.Options{}))
	t.Cleanup(hs.Close)
	return &testServer{base: hs.URL, store: "sqlite:" + path, mech: mech}
}

// token issues a token of the role for the party, creating the party if
// it does not exist yet.
func (s *testServer) token(t *testing.T, role dc.Role, party string) string {
	t.Helper()
	if _, err := s.mech.Access().AddParty(t.Context(), party, ""); err != nil && dc.ErrorCode(err) != dc.EExists {
		t.Fatal(err)
	}
	secret, _, err := s.mech.Access().IssueToken(t.Context(), role, party, "test")
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// run runs deconflict-bench with args and returns its stderr and exit
// status.
func run(t *testing.T, args ...string) (stderr string, code int) {
	t.Helper()
	var e strings.Builder
	m := &Main{Stdout: io.Discard, Stderr: &e, Getenv: func(string) string { return "" }}
	code = m.Run(t.Context(), args)
	return e.String(), code
}

// serverBinary builds the deconflict server once for the tests that start
// it as a process.
var serverBinaryOnce = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "deconflict-bench-test-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "deconflict")
	if out, err := exec.Command("go", "build", "-o", bin, "../deconflict").CombinedOutput(); err != nil {
		return "", &exec.Error{Name: string(out), Err: err}
	}
	return bin, nil
})

func TestMain(m *testing.M) {
	// --floor starts this program (here the test binary) as floor-serve.
	if len(os.Args) > 1 && os.Args[1] == "floor-serve" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		os.Exit((&Main{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}).Run(ctx, os.Args[1:]))
	}
	code := m.Run()
	if bin, err := serverBinaryOnce(); err == nil {
		os.RemoveAll(filepath.Dir(bin))
	}
	os.Exit(code)
}

func readResult(t *testing.T, path string) loadgen.Result {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r loadgen.Result
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("result file is not valid: %v\n%s", err, b)
	}
	if r.Tool != "deconflict-bench" || r.Machine.CPUs == 0 || r.StartedAt.IsZero() || len(r.Scenarios) == 0 {
		t.Fatalf("result misses its header: %s", b)
	}
	return r
}

func checkPhase(t *testing.T, ph loadgen.Phase, name string, n int) {
	t.Helper()
	l := ph.Latency
	if ph.Name != name || ph.Requests != n || ph.Errors != 0 || l.Count != n || ph.PerSecond <= 0 {
		t.Fatalf("phase %+v, want %s of %d requests without errors", ph, name, n)
	}
	if !(0 < l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.Max && l.Mean <= l.Max) {
		t.Fatalf("phase %s: percentiles out of order: %+v", name, l)
	}
}

// TestBenchHTTP runs deconflict-bench against a real server for a few
// hundred declarations, with the parties' tokens issued by the bench
// itself from the store, and reads the result file.
func TestBenchHTTP(t *testing.T) {
	s := startTestServer(t)
	out := filepath.Join(t.TempDir(), "result.json")
	stderr, code := run(t, "--server", s.base, "--store", s.store, "--ops", "300", "--queries", "100", "--clients", "4",
		"--conflict-rate", "0.2", "--seed", "5", "--parties", "alpha,bravo,delta", "--out", out, "--progress-every", "200ms")
	if code != 0 {
		t.Fatalf("bench exited with %d: %s", code, stderr)
	}
	r := readResult(t, out)
	if r.Mode != "http" || r.Server != s.base || r.Clients != 4 || len(r.Phases) != 2 {
		t.Fatalf("result %+v", r)
	}
	checkPhase(t, r.Phases[0], "declare", 300)
	checkPhase(t, r.Phases[1], "check", 100)
	if got := r.Phases[0].Status["201"]; got != 300 {
		t.Errorf("%d declarations created, want 300", got)
	}
	// About a fifth of the declarations meet a conflict; concurrency may
	// move a few from one declaration of a pair to the other.
	if w := r.Phases[0].WithConflicts; w < 30 || w > 100 {
		t.Errorf("%d declarations answered with conflicts, want about 60", w)
	}
	if w := r.Phases[1].WithConflicts; w < 5 {
		t.Errorf("%d checks found conflicts, want about 20", w)
	}
	// The server's side of the declarations, from its /metrics: 300
	// writes in group commits, each commit timed. Checks write nothing.
	if v := r.Phases[0].Server; v == nil || v.Batches < 1 || v.Batches > 300 || v.WritesPerBatch < 1 ||
		v.WriterBusy <= 0 || v.WriterBusy > 1.01 || v.CommitMeanMS <= 0 {
		t.Errorf("declare phase, server view %+v", v)
	} else if int(v.Batches*v.WritesPerBatch+0.5) != 300 {
		t.Errorf("server view: %g batches of %g writes, want 300 writes", v.Batches, v.WritesPerBatch)
	}
	if v := r.Phases[1].Server; v != nil {
		t.Errorf("check phase, server view %+v; want none (checks write nothing)", v)
	}
	if !strings.Contains(stderr, "  server: ") {
		t.Errorf("no server line in: %s", stderr)
	}
	if sc := r.Scenarios[0]; sc.Seed != 5 || sc.Operations != 300 || sc.ConflictRate != 0.2 {
		t.Errorf("scenario %+v", sc)
	}
	// Progress went to stderr as plain lines (it is not a terminal).
	if !strings.Contains(stderr, "declare 300/300 (100%)") {
		t.Errorf("no final progress line in: %s", stderr)
	}
	// The operations are on the server.
	req, _ := http.NewRequest("GET", s.base+"/v1/operations?limit=1000", nil)
	req.Header.Set("Authorization", "Bearer "+s.token(t, dc.RoleObserver, "alpha"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct{ Operations []json.RawMessage }
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || resp.StatusCode != 200 {
		t.Fatalf("list operations: %d, %v", resp.StatusCode, err)
	}
	if n := len(list.Operations); n != 300 {
		t.Errorf("server holds %d live operations, want 300", n)
	}
}

// TestBenchTokensFile runs the bench with a --tokens file instead of a
// store, and fails cleanly on a token the server does not know.
func TestBenchTokensFile(t *testing.T) {
	s := startTestServer(t)
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	body := "# party token\nalpha " + s.token(t, dc.RoleOperator, "alpha") + "\nbravo " + s.token(t, dc.RoleOperator, "bravo") + "\n"
	if err := os.WriteFile(tokens, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "r.json")
	m := &Main{Stdout: &strings.Builder{}, Stderr: &strings.Builder{}, Getenv: func(string) string { return "" }}
	args := []string{"--server", s.base, "--tokens", tokens, "--parties", "alpha,bravo", "--ops", "50", "--queries", "10", "--out", out}
	if code := m.Run(t.Context(), args); code != 0 {
		t.Fatalf("bench exited with %d: %s", code, m.Stderr)
	}
	checkPhase(t, readResult(t, out).Phases[0], "declare", 50)

	if err := os.WriteFile(tokens, []byte("alpha nope\nbravo nope\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m.Stderr = &strings.Builder{}
	if code := m.Run(t.Context(), append(args, "--seed", "9")); code != 1 || !strings.Contains(m.Stderr.(*strings.Builder).String(), "401") {
		t.Fatalf("bench with bad tokens exited with %d: %s", code, m.Stderr)
	}
}

// TestBenchIndexAndPlot runs the in-process mode for two small sizes and
// draws its curves.
func TestBenchIndexAndPlot(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "index.json")
	var stdout, stderr strings.Builder
	m := &Main{Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }}
	if code := m.Run(t.Context(), []string{"--mode", "index", "--ops", "500,2000", "--queries", "200", "--out", out}); code != 0 {
		t.Fatalf("bench exited with %d: %s", code, stderr.String())
	}
	r := readResult(t, out)
	if len(r.Index) != 2 || r.Index[1].Operations != 2000 || r.Index[1].Checks != 200 || r.Index[1].BytesPerOperation <= 0 {
		t.Fatalf("index runs %+v", r.Index)
	}
	if code := m.Run(t.Context(), []string{"plot", "--dir", dir, out}); code != 0 {
		t.Fatalf("bench plot exited with %d: %s", code, stderr.String())
	}
	svg, err := os.ReadFile(filepath.Join(dir, "bench-check-latency.svg"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(svg), "<svg") || !strings.Contains(string(svg), "<polyline") {
		t.Fatalf("not a chart: %.200s", svg)
	}
}

// TestBenchScale runs the scale mode for a small size, preloaded through
// the mechanism and directly, on the server binary.
func TestBenchScale(t *testing.T) {
	bin, err := serverBinaryOnce()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, preload := range []string{"mechanism", "direct"} {
		out := filepath.Join(dir, preload+".json")
		var stderr strings.Builder
		m := &Main{Stdout: io.Discard, Stderr: &stderr, Getenv: func(string) string { return "" }}
		args := []string{"--mode", "scale", "--deconflict", bin, "--preload", preload, "--ops", "300", "--queries", "60", "--dir", dir, "--out", out}
		if code := m.Run(t.Context(), args); code != 0 {
			t.Fatalf("%s: bench exited with %d: %s", preload, code, stderr.String())
		}
		r := readResult(t, out)
		if len(r.Scale) != 1 || r.Scale[0].Operations != 300 || r.Scale[0].StartSeconds <= 0 || r.Scale[0].PreloadSeconds <= 0 || r.Scale[0].RestartSeconds <= 0 || r.Scale[0].HeapBytes <= 0 {
			t.Fatalf("%s: scale runs %+v", preload, r.Scale)
		}
		if !strings.Contains(stderr.String(), "restarted in") {
			t.Fatalf("%s: no restart reported:\n%s", preload, stderr.String())
		}
		if preload == "mechanism" {
			checkPhase(t, r.Scale[0].Declare, "declare", 60)
		} else if r.Scale[0].Declare.Requests != 0 {
			t.Fatalf("direct preload declared %d more", r.Scale[0].Declare.Requests)
		}
	}
}

// TestHelp: --help prints the usage on stdout and succeeds; a stray
// argument or an unknown flag is a usage error.
func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"plot", "--help"}} {
		var out strings.Builder
		m := &Main{Stdout: &out, Stderr: io.Discard, Getenv: func(string) string { return "" }}
		if code := m.Run(t.Context(), args); code != 0 || !strings.Contains(out.String(), "deconflict-bench") {
			t.Errorf("%v: exit %d, stdout %q", args, code, out.String())
		}
	}
	for _, args := range [][]string{{"stray"}, {"--no-such-flag"}, {"plot"}} {
		if _, code := run(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}
