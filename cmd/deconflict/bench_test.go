package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/loadgen"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/sqlite"
)

// spreadDeclaration returns a declaration somewhere over a wide region
// (the eastern Mediterranean and beyond), over a week, so that conflicts
// are the exception as in real traffic.
func spreadDeclaration(rng *rand.Rand) map[string]any {
	lat, lng := 25+rng.Float64()*20, 25+rng.Float64()*25
	lower := float64(rng.IntN(12)) * 1000
	start := at(1 + rng.Float64()*24*7)
	end := start.Add(time.Duration(10+rng.IntN(240)) * time.Minute)
	return decl("planned", circle(lat, lng, 1000+rng.Float64()*20000, lower, lower+300+rng.Float64()*1500, start, end))
}

// BenchmarkDeclareHTTP measures declarations per second over HTTP with 8
// concurrent clients against a server on the embedded store, and reports
// latency percentiles.
func BenchmarkDeclareHTTP(b *testing.B) {
	benchDeclare(b, startServerB(b))
}

// BenchmarkDeclareHTTPWebhooks is BenchmarkDeclareHTTP with 10 webhook
// subscribers of bravo receiving every declaration at a loopback receiver.
func BenchmarkDeclareHTTPWebhooks(b *testing.B) {
	s := startServerB(b)
	var received atomic.Int64
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		received.Add(1)
	}))
	defer rcv.Close()
	head := s.token("head", "bravo")
	for i := 0; i < 10; i++ {
		s.do("PUT", fmt.Sprintf("/v1/webhooks/hook-%d", i), head, map[string]any{"url": rcv.URL, "events": []string{"operation.declared"}})
	}
	benchDeclare(b, s)
	b.ReportMetric(float64(received.Load())/float64(b.N), "deliveries/decl-at-end")
}

func benchDeclare(b *testing.B, s *testServer) { benchDeclareClients(b, s, 8) }

// BenchmarkDeclareHTTPLive measures declarations over HTTP against a
// server whose store already holds many live operations
// (DECONFLICT_BENCH_LIVE, default 100,000, spread like the declarations),
// with 8 to 64 concurrent clients. The live operations are declared
// through the mechanism once and kept in a template file in the
// temporary directory for later runs (for six hours: their times are
// relative to when they were made).
func BenchmarkDeclareHTTPLive(b *testing.B) {
	live := 100000
	if v := os.Getenv("DECONFLICT_BENCH_LIVE"); v != "" {
		live, _ = strconv.Atoi(v)
	}
	clients := []int{8, 16, 32, 64}
	if v := os.Getenv("DECONFLICT_BENCH_CLIENTS"); v != "" {
		clients = nil
		for _, f := range strings.Split(v, ",") {
			n, _ := strconv.Atoi(f)
			clients = append(clients, n)
		}
	}
	template := liveTemplate(b, live)
	for _, n := range clients {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			dir := b.TempDir()
			if err := copyFile(filepath.Join(dir, "deconflict.db"), template); err != nil {
				b.Fatal(err)
			}
			s := &testServer{t: b, store: "sqlite:" + filepath.Join(dir, "deconflict.db")}
			began := time.Now()
			s.start()
			ready := time.Since(began)
			benchDeclareClients(b, s, n)
			b.ReportMetric(ready.Seconds(), "start-s")
		})
	}
}

// BenchmarkDeclareHTTPParties measures declarations over HTTP with 32
// clients on an empty embedded store shared by 3 to 30 parties
// (DECONFLICT_BENCH_PARTIES, default 3,10,30). Every declaration is owed
// an acknowledgement by every other party, so the work of one
// declaration grows with the number of parties.
func BenchmarkDeclareHTTPParties(b *testing.B) {
	counts := []int{3, 10, 30}
	if v := os.Getenv("DECONFLICT_BENCH_PARTIES"); v != "" {
		counts = nil
		for _, f := range strings.Split(v, ",") {
			n, _ := strconv.Atoi(f)
			counts = append(counts, n)
		}
	}
	for _, n := range counts {
		b.Run(fmt.Sprintf("parties=%d", n), func(b *testing.B) {
			s := &testServer{t: b, store: testStore(b)}
			for _, p := range []string{"alpha", "bravo", "charlie"} {
				s.mustRun("party", "add", p, "--name", strings.ToUpper(p))
			}
			for i := 3; i < n; i++ {
				p := fmt.Sprintf("party%02d", i)
				s.mustRun("party", "add", p, "--name", strings.ToUpper(p))
			}
			s.start()
			benchDeclareClients(b, s, 32)
		})
	}
}

// templateFormat names what a template's rows look like; bump it when
// what a declaration stores changes (2: group duties under time-ordered
// IDs; 3: the schema of migration 0011, which older versions refuse to
// open), so that a benchmark never runs on a template an older version
// made and compares stores of two shapes.
const templateFormat = 3

// liveTemplate returns the path of a store with parties alpha, bravo and
// charlie and n live operations, making it if no recent one exists.
func liveTemplate(b *testing.B, n int) string {
	b.Helper()
	path := filepath.Join(os.TempDir(), fmt.Sprintf("deconflict-bench-live-v%d-%d.db", templateFormat, n))
	if fi, err := os.Stat(path); err == nil && time.Since(fi.ModTime()) < 6*time.Hour {
		return path
	}
	tmp := path + ".tmp"
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(tmp + suffix)
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, tmp)
	if err != nil {
		b.Fatal(err)
	}
	took := declareLive(b, st, n, 128)
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	if b.Failed() {
		b.FailNow()
	}
	b.Logf("made a store of %d live operations in %s", n, took.Round(time.Millisecond))
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	return path
}

// profileCPU starts a CPU profile of this process into the file that
// DECONFLICT_BENCH_CPUPROFILE names, if it names one and this is not a
// first, trial run of the benchmark (so that the profile is of the last
// run), and returns what stops it.
func profileCPU(b *testing.B) (stop func()) {
	stop = func() {}
	if path := os.Getenv("DECONFLICT_BENCH_CPUPROFILE"); path != "" && b.N > 1 {
		f, err := os.Create(path)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			b.Fatalf("CPU profile: %v", err)
		}
		stop = func() { pprof.StopCPUProfile(); f.Close() }
	}
	return stop
}

// closedLoop sends b.N requests from clients goroutines at once, each
// sending its next when its last was answered: send(c, i) sends the i-th,
// from client c, and reports whether that client goes on. It returns the
// latencies of the requests answered before any a client stopped on, in
// increasing order, and how long they all took.
func closedLoop(b *testing.B, clients int, send func(c, i int) bool) ([]time.Duration, time.Duration) {
	var (
		next      atomic.Int64
		mu        sync.Mutex
		latencies []time.Duration
		wg        sync.WaitGroup
	)
	began := time.Now()
	for c := range clients {
		wg.Go(func() {
			var mine []time.Duration
			for i := int(next.Add(1) - 1); i < b.N; i = int(next.Add(1) - 1) {
				t0 := time.Now()
				if !send(c, i) {
					break
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(began)
	slices.Sort(latencies)
	return latencies, elapsed
}

// declareLive fills st, a new store, through the mechanism: the parties
// alpha, bravo and charlie and n live operations (declareSpread, by
// workers concurrent writers). It returns how long the declarations took.
// Nobody acknowledges in a benchmark: without a long timeout the
// escalation timer would raise the preloaded operations' duties,
// hundreds of thousands of writes, while it runs.
func declareLive(b *testing.B, st dc.Store, n, workers int) time.Duration {
	b.Helper()
	ctx := context.Background()
	m := mechanism.New(st, mechanism.Options{})
	if err := m.Load(ctx); err != nil {
		b.Fatal(err)
	}
	for _, p := range []string{"alpha", "bravo", "charlie"} {
		if _, err := m.Access().AddParty(ctx, p, strings.ToUpper(p)); err != nil {
			b.Fatal(err)
		}
	}
	settings := dc.DefaultSettings()
	settings.AckTimeoutS = 30 * 86400
	if _, err := m.Settings().Put(ctx, dc.Actor{Role: dc.RoleAdmin}, settings); err != nil {
		b.Fatal(err)
	}
	began := time.Now()
	declareSpread(b, m, n, workers, 99)
	return time.Since(began)
}

// declareSpread declares n spread declarations through m, by workers
// concurrent writers, the parties alpha, bravo and charlie in turn; seed
// makes the scenario (each writer draws from its own stream).
func declareSpread(b *testing.B, m *mechanism.Mechanism, n, workers int, seed uint64) {
	b.Helper()
	ctx := context.Background()
	actors := []dc.Actor{{Party: "alpha", Role: dc.RoleOperator}, {Party: "bravo", Role: dc.RoleOperator}, {Party: "charlie", Role: dc.RoleOperator}}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), seed))
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				raw, _ := json.Marshal(spreadDeclaration(rng))
				var d mechanism.Declaration
				if err := json.Unmarshal(raw, &d); err != nil {
					b.Error(err)
					return
				}
				if _, err := m.Declare(ctx, actors[i%3], newID(), d, nil); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	// On disk before the server starts: otherwise its first flushes
	// write back the whole copy, stalls that a running server would not
	// see.
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func benchDeclareClients(b *testing.B, s *testServer, clients int) {
	tokens := []string{s.token("operator", "alpha"), s.token("operator", "bravo")}
	rng := rand.New(rand.NewPCG(1, 2))
	bodies := make([][]byte, b.N)
	for i := range bodies {
		bodies[i], _ = json.Marshal(spreadDeclaration(rng))
	}
	var failed atomic.Int64
	// A client per worker that keeps a connection per worker (the default
	// transport keeps two idle connections per host, so more clients than
	// that would open a new connection for most requests).
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: clients, MaxIdleConnsPerHost: clients, IdleConnTimeout: time.Minute}}
	defer client.CloseIdleConnections()
	// Only the measured declarations, not the server's start.
	defer profileCPU(b)()
	b.ResetTimer()
	c0 := loadgen.ScrapeServer(context.Background(), http.DefaultClient, s.base)
	cpu0 := cpuTime()
	lat, elapsed := closedLoop(b, clients, func(_, i int) bool {
		req, _ := newRequest("PUT", s.base+"/v1/operations/"+newID(), bodies[i], tokens[i%2])
		resp, err := client.Do(req)
		if err != nil || resp.StatusCode != 201 {
			failed.Add(1)
		}
		if resp != nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return true
	})
	cpu := cpuTime() - cpu0
	b.StopTimer()
	// The single writer's group commits: how many declarations each took,
	// how much of the time a batch was running, and how long its commit
	// (with the flush to disk) took on average.
	v := loadgen.ServerViewOf(c0, loadgen.ScrapeServer(context.Background(), http.DefaultClient, s.base), elapsed.Seconds())
	if v == nil {
		b.Fatal("no server metrics")
	}
	b.ReportMetric(v.WritesPerBatch, "decl/batch")
	b.ReportMetric(100*v.WriterBusy, "writer-busy-%")
	b.ReportMetric(v.CommitMeanMS, "commit-ms")
	if failed.Load() > 0 {
		b.Fatalf("%d declarations failed", failed.Load())
	}
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "decl/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	// CPU time of the whole process (server and clients) per declaration:
	// steadier than the rate on a machine shared with other work.
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/decl")
}

// cpuTime returns the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkStreamFanout measures events per second delivered to 100 open
// streams: alpha declares b.N operations, and the clock stops when every
// one of bravo's 100 streams has received all of them.
func BenchmarkStreamFanout(b *testing.B) {
	s := startServerB(b)
	op, li := s.token("operator", "alpha"), s.token("liaison", "bravo")
	const streams = 100
	var wg sync.WaitGroup
	var got atomic.Int64
	ready := make(chan struct{}, streams)
	for i := 0; i < streams; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", s.base+"/v1/events", nil)
			req.Header.Set("Authorization", "Bearer "+li)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			defer resp.Body.Close()
			ready <- struct{}{}
			dec := bufioScanner(resp.Body)
			n := 0
			for dec.Scan() {
				if line := dec.Text(); len(line) > 6 && line[:6] == "event:" && line == "event: operation.declared" {
					n++
					got.Add(1)
					if n == b.N {
						return
					}
				}
			}
		}()
	}
	for i := 0; i < streams; i++ {
		<-ready
	}
	rng := rand.New(rand.NewPCG(3, 4))
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		raw, _ := json.Marshal(spreadDeclaration(rng))
		req, _ := newRequest("PUT", s.base+"/v1/operations/"+newID(), raw, op)
		resp, err := httpClient.Do(req)
		if err != nil || resp.StatusCode != 201 {
			b.Fatalf("declare: %v", err)
		}
		resp.Body.Close()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.ReportMetric(float64(got.Load())/elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
}

func bufioScanner(r io.Reader) *bufio.Scanner {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	return sc
}
