package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/deconflict/deconflict/internal/pgtest"
	"github.com/deconflict/deconflict/loadgen"
	"github.com/deconflict/deconflict/postgres"
	"github.com/jackc/pgx/v5"
)

// BenchmarkReplicaProcessesPostgres measures declarations per second with
// one and with three replicas, each a process of its own, on one
// PostgreSQL database holding DECONFLICT_BENCH_LIVE live operations
// (100,000 by default: made once, kept on the server as a template, and
// copied for each run), 32 HTTP clients spread evenly over the replicas,
// declarations of three parties spread over a region and a week. Beside
// the rate and latency it reports the CPU time each declaration cost the
// replicas, PostgreSQL and the load generator, the load average, how many
// declarations a write transaction carried, how many operations of other
// replicas each replica read into its index (ahead of the write lock and
// under it), and how long the write lock was waited for and held.
// DECONFLICT_BENCH_REPLICAS lists the replica counts (default 1,3);
// DECONFLICT_BENCH_SERVE_FLAGS adds flags to serve (--replica-listen none:
// every replica writes its own declarations); DECONFLICT_BENCH_PROFILE=DIR
// writes each replica's CPU profile of the load there. Needs DECONFLICT_TEST_POSTGRES on this machine (its CPU is
// read from /proc).
//
//	go test ./cmd/deconflict -run '^$' -bench ReplicaProcessesPostgres -benchtime 4000x
func BenchmarkReplicaProcessesPostgres(b *testing.B) {
	counts := []int{1, 3}
	if v := os.Getenv("DECONFLICT_BENCH_REPLICAS"); v != "" {
		counts = nil
		for _, f := range strings.Split(v, ",") {
			n, _ := strconv.Atoi(f)
			counts = append(counts, n)
		}
	}
	live := 100000
	if v := os.Getenv("DECONFLICT_BENCH_LIVE"); v != "" {
		live, _ = strconv.Atoi(v)
	}
	bin := buildBinary(b)
	for _, n := range counts {
		b.Run(fmt.Sprintf("replicas=%d", n), func(b *testing.B) {
			benchReplicaProcesses(b, bin, n, live)
		})
	}
}

func benchReplicaProcesses(b *testing.B, bin string, n, live int) {
	store := liveTemplatePostgres(b, live)
	admin := &testServer{t: b, store: store}
	tokens := []string{admin.token("operator", "alpha"), admin.token("operator", "bravo"), admin.token("operator", "charlie")}
	profiles := os.Getenv("DECONFLICT_BENCH_PROFILE")
	var (
		pids   []int
		bases  []string
		pprofs []string
		logs   []*syncBuffer
	)
	forwarding := true
	for range n {
		extra := strings.Fields(os.Getenv("DECONFLICT_BENCH_SERVE_FLAGS"))
		if strings.Contains(strings.Join(extra, " "), "--replica-listen none") {
			forwarding = false
		}
		if profiles != "" {
			addr := freeLoopbackAddr(b)
			extra = append(extra, "--pprof", addr)
			pprofs = append(pprofs, addr)
		}
		cmd, base, log := startBinary(b, bin, store, extra...)
		pids, bases, logs = append(pids, cmd.Process.Pid), append(bases, base), append(logs, log)
	}
	if n > 1 && forwarding {
		// Measure the replicas as they run, not as they start: wait
		// until each knows which of them is the writer.
		waitFor(b, 20*time.Second, "every replica to know the writer", func() bool {
			for _, l := range logs {
				if !strings.Contains(l.String(), `"msg":"writer replica"`) {
					return false
				}
			}
			return true
		})
	}
	pgPID := postmasterPID(b, store)

	const clients = 32
	rng := rand.New(rand.NewPCG(7, uint64(n)))
	bodies := make([][]byte, b.N)
	for i := range bodies {
		bodies[i], _ = json.Marshal(spreadDeclaration(rng))
	}
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}}
	ctx := context.Background()
	before := make([]loadgen.ServerCounters, n)
	for i, base := range bases {
		before[i] = loadgen.ScrapeServer(ctx, client, base)
	}
	cpuBefore := make([]float64, n)
	for i, pid := range pids {
		cpuBefore[i] = processCPU(b, pid, false)
	}
	pgBefore, selfBefore := clusterCPU(b, pgPID), selfCPU()

	var profiling sync.WaitGroup // the profiles taken in the middle of the load
	if profiles != "" {
		// The middle of the load, at about 1,000 declarations a second.
		secs := max(1, b.N/1500)
		for i, addr := range pprofs {
			profiling.Go(func() {
				time.Sleep(300 * time.Millisecond)
				saveProfile(b, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, secs),
					filepath.Join(profiles, fmt.Sprintf("replicas%d-r%d.pprof", n, i+1)))
			})
		}
	}
	b.ResetTimer()
	latencies, elapsed := closedLoop(b, clients, func(c, i int) bool {
		req, _ := newRequest("PUT", bases[c%n]+"/v1/operations/"+newID(), bodies[i], tokens[i%3])
		resp, err := client.Do(req)
		if err != nil {
			b.Errorf("declaration: %v", err)
			return false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 201 {
			b.Errorf("declaration answered %d", resp.StatusCode)
			return false
		}
		return true
	})
	profiling.Wait()
	b.StopTimer()
	if len(latencies) == 0 {
		return
	}
	decls := float64(len(latencies))
	var replicaCPU, writerCPU float64
	for i, pid := range pids {
		used := processCPU(b, pid, false) - cpuBefore[i]
		replicaCPU += used
		if strings.Contains(logs[i].String(), "this replica writes the declarations the others hand over") {
			writerCPU = used
		}
	}
	pgCPU, selfCPU := clusterCPU(b, pgPID)-pgBefore, selfCPU()-selfBefore
	sum := map[string]float64{}
	for i, base := range bases {
		after := loadgen.ScrapeServer(ctx, client, base)
		for k, v := range after {
			sum[k] += v - before[i][k]
		}
	}
	b.ReportMetric(decls/elapsed.Seconds(), "decl/s")
	b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "p99_ms")
	b.ReportMetric(1e6*replicaCPU/decls, "replica_cpu_us/decl")
	if n > 1 {
		b.ReportMetric(1e6*writerCPU/decls, "writer_cpu_us/decl")
	}
	b.ReportMetric(1e6*pgCPU/decls, "pg_cpu_us/decl")
	b.ReportMetric(1e6*selfCPU/decls, "client_cpu_us/decl")
	if batches := sum["deconflict_write_batches_total"]; batches > 0 {
		b.ReportMetric(sum["deconflict_batched_writes_total"]/batches, "decl/batch")
		b.ReportMetric(sum[`deconflict_caught_up_operations_total{where="ahead"}`]/batches, "caughtup_ahead/batch")
		b.ReportMetric(sum[`deconflict_caught_up_operations_total{where="in_batch"}`]/batches, "caughtup_locked/batch")
	}
	b.ReportMetric(sum[`deconflict_forwarded_declarations_total{outcome="answered"}`]/decls, "forwarded/decl")
	if n > 1 {
		b.Logf("declarations handed over: %.0f answered, %.0f written where they arrived, %.0f unanswered, %.0f received",
			sum[`deconflict_forwarded_declarations_total{outcome="answered"}`], sum[`deconflict_forwarded_declarations_total{outcome="written_here"}`],
			sum[`deconflict_forwarded_declarations_total{outcome="unanswered"}`], sum[`deconflict_forwarded_declarations_total{outcome="received"}`])
	}
	mean := func(name string) float64 {
		if c := sum[name+"_count"]; c > 0 {
			return 1000 * sum[name+"_sum"] / c
		}
		return 0
	}
	b.ReportMetric(mean("deconflict_store_write_lock_wait_seconds"), "lockwait_ms")
	b.ReportMetric(mean("deconflict_store_write_lock_held_seconds"), "lockheld_ms")
	b.ReportMetric(mean("deconflict_store_commit_seconds"), "commit_ms")
	// Share of the time the write lock was held by someone: near 1, the
	// lock is the limit.
	b.ReportMetric(sum["deconflict_store_write_lock_held_seconds_sum"]/elapsed.Seconds(), "lock_busy")
	b.ReportMetric(loadAverage(), "load1")
}

// liveTemplatePostgres returns the URL of a fresh database with parties
// alpha, bravo and charlie and n live operations declared by them
// (spreadDeclaration), copied from a template made the first time on the
// server (per day: the operations are in the week after testEpoch).
func liveTemplatePostgres(b *testing.B, n int) string {
	b.Helper()
	name := fmt.Sprintf("dcf_bench_live_v%d_%d_%s", templateFormat, n, testEpoch.Format("20060102"))
	return pgtest.FromTemplate(b, name, func(url string) {
		ctx := context.Background()
		st, err := postgres.Open(ctx, url)
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		took := declareLive(b, st, n, 64)
		if b.Failed() {
			b.FailNow()
		}
		b.Logf("made a PostgreSQL template of %d live operations in %s", n, took.Round(time.Millisecond))
	})
}

// freeLoopbackAddr returns a loopback address with a port free a moment
// ago.
func freeLoopbackAddr(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// saveProfile writes what url answers to path.
func saveProfile(b *testing.B, url, path string) {
	resp, err := http.Get(url)
	if err != nil {
		b.Errorf("profile: %v", err)
		return
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		b.Errorf("profile: %v", err)
		return
	}
	defer f.Close()
	_, _ = io.Copy(f, resp.Body)
}

// clockTicks is the unit of CPU times in /proc (USER_HZ), 100 on Linux.
const clockTicks = 100

// processCPU returns the CPU seconds process pid used, user and system;
// with children, also those of its children that ended.
func processCPU(b *testing.B, pid int, children bool) float64 {
	f := procStat(b, pid)
	if f == nil {
		return 0
	}
	t := f[11] + f[12] // utime, stime
	if children {
		t += f[13] + f[14] // cutime, cstime
	}
	return float64(t) / clockTicks
}

// procStat returns the numeric fields of /proc/pid/stat after the
// command's name (state is left 0); nil if the process is gone.
func procStat(b *testing.B, pid int) []int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	s := string(raw)
	s = s[strings.LastIndexByte(s, ')')+2:]
	fields := strings.Fields(s)
	out := make([]int64, len(fields))
	for i, f := range fields[1:] {
		out[i+1], _ = strconv.ParseInt(f, 10, 64)
	}
	return out
}

// postmasterPID returns the process ID of the PostgreSQL server of the
// database at url: the parent of a backend.
func postmasterPID(b *testing.B, url string) int {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	var backend int
	if err := conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&backend); err != nil {
		b.Fatal(err)
	}
	f := procStat(b, backend)
	if f == nil {
		b.Fatalf("PostgreSQL backend %d is not a process of this machine", backend)
	}
	return int(f[1])
}

// clusterCPU returns the CPU seconds the PostgreSQL server with
// postmaster pm used: its own, its living children's and those of the
// children that ended.
func clusterCPU(b *testing.B, pm int) float64 {
	t := processCPU(b, pm, true)
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f := procStat(b, pid); f != nil && int(f[1]) == pm {
			t += processCPU(b, pid, false)
		}
	}
	return t
}

// selfCPU returns the CPU seconds this process used.
func selfCPU() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// loadAverage returns the one-minute load average.
func loadAverage() float64 {
	raw, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(raw))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}
