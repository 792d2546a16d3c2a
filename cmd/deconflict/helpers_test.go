package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deconflict/deconflict/internal/pgtest"
	"github.com/google/uuid"
)

// testServer is a real deconflict server on a loopback port, over a fresh
// embedded store, run in process through Main as the binary would run.
type testServer struct {
	t     testing.TB
	store string
	base  string
	stop  func()
	// flags are extra flags of serve; nil means loopbackFlags.
	flags []string
}

// startServer starts a server with parties alpha, bravo and charlie.
func startServer(t *testing.T) *testServer { return startServerB(t) }

// startServerB is startServer for tests and benchmarks.
func startServerB(t testing.TB) *testServer {
	t.Helper()
	return startServerOn(t, testStore(t))
}

// startServerOn is startServer on the store at url.
func startServerOn(t testing.TB, url string) *testServer {
	t.Helper()
	return startServerWith(t, url, loopbackFlags...)
}

// loopbackFlags let webhooks reach receivers on loopback, where the tests
// run them.
var loopbackFlags = []string{"--webhook-allow", "127.0.0.0/8"}

// startServerWith is startServer on the store at url, serve given flags
// (none: not even loopbackFlags).
func startServerWith(t testing.TB, url string, flags ...string) *testServer {
	t.Helper()
	if flags == nil {
		flags = []string{}
	}
	s := &testServer{t: t, store: url, flags: flags}
	for _, p := range []string{"alpha", "bravo", "charlie"} {
		s.mustRun("party", "add", p, "--name", strings.ToUpper(p))
	}
	s.start()
	return s
}

// testStore returns the URL of a fresh store: SQLite, or PostgreSQL when
// DECONFLICT_E2E_STORE=postgres, so that the same end-to-end tests prove
// both stores behave the same (scripts/test runs them on both).
func testStore(t testing.TB) string {
	if os.Getenv("DECONFLICT_E2E_STORE") == "postgres" {
		return pgtest.Database(t)
	}
	return "sqlite:" + t.TempDir() + "/deconflict.db"
}

func (s *testServer) start() {
	t := s.t
	t.Helper()
	flags := s.flags
	if flags == nil {
		flags = loopbackFlags
	}
	stderr := &syncBuffer{}
	addr, stop := serveInProcess(t, append([]string{"serve", "--listen", "127.0.0.1:0", "--store", s.store, "--rate-limit", "0"}, flags...), io.Discard, stderr)
	s.base = "http://" + addr
	s.stop = func() {
		if code := stop(); code != 0 {
			t.Errorf("server exited with %d: %s", code, stderr.String())
		}
	}
	t.Cleanup(s.stop)
}

// serveInProcess runs deconflict with args, a command that serves (serve
// or demo, on 127.0.0.1:0), in this process, its output written to stdout
// and stderr, and returns the address it serves on once it is ready. The
// test fails, showing stderr, if the command exits first or is not ready
// within 30 seconds. stop ends the command and returns its exit code;
// called again, it returns the same code.
func serveInProcess(t testing.TB, args []string, stdout io.Writer, stderr interface {
	io.Writer
	String() string
}) (addr string, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan int, 1)
	m := &Main{Stdout: stdout, Stderr: stderr, Getenv: func(string) string { return "" }, Ready: func(a string) { ready <- a }}
	go func() { done <- m.Run(ctx, args) }()
	select {
	case addr = <-ready:
	case code := <-done:
		cancel()
		t.Fatalf("%s exited with %d: %s", args[0], code, stderr.String())
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("%s did not start", args[0])
	}
	var once sync.Once
	var code int
	return addr, func() int {
		once.Do(func() {
			cancel()
			code = <-done
		})
		return code
	}
}

// run runs a deconflict command on the server's store.
func (s *testServer) run(args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
		if k == "DECONFLICT_STORE" {
			return s.store
		}
		return ""
	}}
	code = m.Run(context.Background(), args)
	return out.String(), errb.String(), code
}

func (s *testServer) mustRun(args ...string) string {
	s.t.Helper()
	out, errs, code := s.run(args...)
	if code != 0 {
		s.t.Fatalf("deconflict %v: exit %d: %s", args, code, errs)
	}
	return out
}

// token issues a token with the CLI.
func (s *testServer) token(role, party string) string {
	s.t.Helper()
	args := []string{"token", "issue", "--role", role}
	if party != "" {
		args = append(args, "--party", party)
	}
	return strings.TrimSpace(s.mustRun(args...))
}

// response is a decoded HTTP answer.
type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

// do sends a request; body is encoded as JSON unless it is a string.
// headers come as name, value pairs.
func (s *testServer) do(method, path, token string, body any, headers ...string) response {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, header: resp.Header, raw: raw}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			s.t.Fatalf("%s %s: answer is not a JSON object: %v: %s", method, path, err, raw)
		}
	}
	return r
}

// want fails the test unless the answer has the status (and, for errors,
// the code and field).
func (r response) want(t *testing.T, status int, codeField ...string) response {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.raw)
	}
	if len(codeField) > 0 {
		e, _ := r.body["error"].(map[string]any)
		if e == nil {
			t.Fatalf("no error object in %s", r.raw)
		}
		if got := e["code"]; got != codeField[0] {
			t.Fatalf("error code = %v, want %s; body %s", got, codeField[0], r.raw)
		}
		if len(codeField) > 1 && e["field"] != codeField[1] {
			t.Fatalf("error field = %v, want %s; body %s", e["field"], codeField[1], r.raw)
		}
		if msg, _ := e["message"].(string); msg == "" {
			t.Fatalf("error without message: %s", r.raw)
		}
	}
	return r
}

func (r response) obj(key string) map[string]any {
	m, _ := r.body[key].(map[string]any)
	return m
}

func (r response) list(key string) []any {
	l, _ := r.body[key].([]any)
	return l
}

// circle returns a Volume4D body part: a circle of radius m around
// lat,lng, between lower and upper metres, from start to end.
func circle(lat, lng, radius, lower, upper float64, start, end time.Time) map[string]any {
	return map[string]any{
		"volume": map[string]any{
			"outline_circle": map[string]any{
				"center": map[string]any{"lat": lat, "lng": lng},
				"radius": map[string]any{"value": radius, "units": "M"},
			},
			"altitude_lower": map[string]any{"value": lower, "reference": "W84", "units": "M"},
			"altitude_upper": map[string]any{"value": upper, "reference": "W84", "units": "M"},
		},
		"time_start": map[string]any{"value": start.UTC().Format(time.RFC3339), "format": "RFC3339"},
		"time_end":   map[string]any{"value": end.UTC().Format(time.RFC3339), "format": "RFC3339"},
	}
}

// polygon returns a Volume4D with a polygon footprint of lat,lng pairs.
func polygon(vertices [][2]float64, lower, upper float64, start, end time.Time) map[string]any {
	var vs []any
	for _, v := range vertices {
		vs = append(vs, map[string]any{"lat": v[0], "lng": v[1]})
	}
	vol := circle(0, 0, 1, lower, upper, start, end)
	vol["volume"] = map[string]any{
		"outline_polygon": map[string]any{"vertices": vs},
		"altitude_lower":  map[string]any{"value": lower, "reference": "W84", "units": "M"},
		"altitude_upper":  map[string]any{"value": upper, "reference": "W84", "units": "M"},
	}
	return vol
}

// decl returns a declaration body.
func decl(state string, vols ...map[string]any) map[string]any {
	list := make([]any, len(vols))
	for i, v := range vols {
		list[i] = v
	}
	return map[string]any{"state": state, "volumes": list}
}

var httpClient = &http.Client{Timeout: 30 * time.Second}

func newRequest(method, url string, body []byte, token string) (*http.Request, error) {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	return req, nil
}

func newID() string { return uuid.NewString() }

// testEpoch is the "now" the test bodies are written against, fixed once
// so that a body built twice is the same body.
var testEpoch = time.Now().UTC().Truncate(time.Second)

// at returns testEpoch plus h hours.
func at(h float64) time.Time { return testEpoch.Add(time.Duration(h * float64(time.Hour))) }

func jsonPath(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		default:
			panic(fmt.Sprintf("bad path element %v", p))
		}
	}
	return v
}

// metric returns the value of a sample of /metrics, named as it is
// written there (labels included), failing if there is none.
func (s *testServer) metric(name string) float64 {
	s.t.Helper()
	resp, err := http.Get(s.base + "/metrics")
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				s.t.Fatalf("metric %s: %v", name, err)
			}
			return f
		}
	}
	s.t.Fatalf("no metric %s in /metrics", name)
	return 0
}
