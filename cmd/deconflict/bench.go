package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/geo"
	"github.com/deconflict/deconflict/loadgen"
	"github.com/deconflict/deconflict/loadgen/plot"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/postgis"
)

const benchHelp = `Usage:
  deconflict bench [--server URL] (--store URL | --tokens FILE) [flags]
  deconflict bench --mode index --ops 10000,100000,1000000 [flags]
  deconflict bench --mode postgis --postgis URL --ops 100000 [flags]
  deconflict bench --mode scale --ops 10000,100000 --dir DIR [flags]
  deconflict bench plot [--dir DIR] RESULT.json...

Generates a seeded, realistic scenario (operations of several parties:
circles and polygons 1-100 km across, altitude bands, windows of 5 minutes
to 6 hours within a week, --conflict-rate of them placed to conflict with an
earlier operation of another party) and measures it. The same --seed,
--ops, --parties, --conflict-rate and --start give the same scenario.

Modes:
  http     (default) declare the operations on a running server over the
           HTTP API with --clients concurrent clients, then send --queries
           what-if checks; report throughput and latency percentiles.
           Tokens: with --store (the server's store, as for 'party add'),
           the parties are created if missing and an operator token is
           issued for each; or --tokens FILE, lines of "PARTY TOKEN".
           Start the server with --rate-limit 0, or 429s count as errors.
  index    in process, no server: load the operations into the conflict
           index (as a server does when it starts) and time --queries
           checks against them, for each size in --ops.
  postgis  the same checks answered by the index and by PostgreSQL +
           PostGIS (database --postgis URL, schema --schema, replaced),
           timed one after another; lists every pair they disagree on.
  scale    for each size in --ops: declare that many operations through
           the mechanism into a fresh store in --dir, start a server on it
           (timing the start), declare --queries more over HTTP.

The result goes to --out as JSON; progress to stderr (a bar on a
terminal, a line every --progress-every otherwise). 'bench plot' draws the
scaling curves of index and scale results as SVG files in --dir.

Flags:
`

// benchFlags are the flags of deconflict bench.
type benchFlags struct {
	mode, server, store, tokens, out, postgis, schema, dir, parties, start *string
	seed                                                                   *uint64
	ops                                                                    *string
	queries, clients                                                       *int
	rate                                                                   *float64
	every                                                                  *time.Duration
	preload                                                                *string
}

func (m *Main) bench(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "plot" {
		return m.benchPlot(args[1:])
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), benchHelp); fs.PrintDefaults() }
	server := m.Getenv("DECONFLICT_SERVER")
	if server == "" {
		server = "http://127.0.0.1:8080"
	}
	f := benchFlags{
		mode:    fs.String("mode", "http", "http, index, postgis or scale"),
		server:  fs.String("server", server, "server URL (env DECONFLICT_SERVER)"),
		store:   fs.String("store", m.Getenv("DECONFLICT_STORE"), "the server's store, to create parties and issue tokens (env DECONFLICT_STORE)"),
		tokens:  fs.String("tokens", "", `file of "PARTY TOKEN" lines, operator tokens (instead of --store)`),
		out:     fs.String("out", "bench-result.json", "where to write the result (JSON)"),
		postgis: fs.String("postgis", m.Getenv("DECONFLICT_POSTGIS"), "PostGIS database URL for --mode postgis (env DECONFLICT_POSTGIS)"),
		schema:  fs.String("schema", "deconflict_bench", "schema of the PostGIS tables (dropped and made again)"),
		dir:     fs.String("dir", "", "directory for the stores of --mode scale (default: a temporary one)"),
		parties: fs.String("parties", strings.Join(loadgen.DefaultParties, ","), "the parties that declare, in turn"),
		start:   fs.String("start", "", "RFC 3339 time the week of operations starts (default: next midnight UTC)"),
		seed:    fs.Uint64("seed", 1, "seed of the scenario"),
		ops:     fs.String("ops", "1000", "operations to declare; a comma-separated list of sizes for index and scale"),
		queries: fs.Int("queries", 1000, "what-if checks (http, index, postgis) or further declarations (scale)"),
		clients: fs.Int("clients", 8, "concurrent HTTP clients"),
		rate:    fs.Float64("conflict-rate", 0.05, "fraction of operations placed to conflict with an earlier one of another party"),
		every:   fs.Duration("progress-every", 5*time.Second, "interval of progress lines when stderr is not a terminal"),
		preload: fs.String("preload", "mechanism", "scale: how the live operations get into the store: mechanism (declared, with conflicts, events and record) or direct (written as rows, only to time the start; no declarations follow)"),
	}
	if _, err := m.parse(fs, args); err != nil {
		return err
	}
	sizes, err := parseSizes(*f.ops)
	if err != nil {
		return err
	}
	res := &loadgen.Result{Tool: "deconflict bench", Mode: *f.mode, StartedAt: time.Now().UTC(), Machine: loadgen.ThisMachine()}
	t0 := time.Now()
	switch *f.mode {
	case "http":
		if len(sizes) != 1 {
			return errors.New("--mode http takes one size in --ops")
		}
		err = m.benchHTTP(ctx, f, sizes[0], res)
	case "index":
		err = m.benchIndex(f, sizes, res)
	case "postgis":
		if len(sizes) != 1 {
			return errors.New("--mode postgis takes one size in --ops")
		}
		err = m.benchPostGIS(ctx, f, sizes[0], res)
	case "scale":
		err = m.benchScale(ctx, f, sizes, res)
	default:
		return fmt.Errorf("unknown --mode %q (want http, index, postgis or scale)", *f.mode)
	}
	if err != nil {
		return err
	}
	res.Seconds = time.Since(t0).Seconds()
	if err := res.Write(*f.out); err != nil {
		return err
	}
	fmt.Fprintf(m.Stderr, "result written to %s\n", *f.out)
	return nil
}

func parseSizes(s string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.ReplaceAll(strings.TrimSpace(p), "_", ""))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("--ops: %q is not a positive number", p)
		}
		out = append(out, n)
	}
	return out, nil
}

// scenario generates the scenario the flags describe, with n operations.
func (m *Main) scenario(f benchFlags, n int, res *loadgen.Result) (*loadgen.Scenario, error) {
	cfg := loadgen.Config{Seed: *f.seed, Operations: n, Queries: *f.queries, ConflictRate: *f.rate,
		Parties: strings.Split(*f.parties, ","), Progress: m.Stderr}
	if *f.start != "" {
		t, err := time.Parse(time.RFC3339, *f.start)
		if err != nil {
			return nil, fmt.Errorf("--start: %w", err)
		}
		cfg.Start = t
	}
	fmt.Fprintf(m.Stderr, "generating %d operations and %d queries (seed %d, conflict rate %g)\n", n, cfg.Queries, cfg.Seed, cfg.ConflictRate)
	t0 := time.Now()
	s, err := loadgen.Generate(cfg)
	if err != nil {
		return nil, err
	}
	info := s.Info(time.Since(t0))
	res.Scenarios = append(res.Scenarios, info)
	fmt.Fprintf(m.Stderr, "generated in %.1f s: %.1f%% of operations conflict with an earlier one\n", info.GenerateSeconds, 100*info.SeenConflictRate)
	return s, nil
}

func (m *Main) benchHTTP(ctx context.Context, f benchFlags, n int, res *loadgen.Result) error {
	parties := strings.Split(*f.parties, ",")
	var tokens map[string]string
	var err error
	switch {
	case *f.tokens != "":
		tokens, err = readTokens(*f.tokens)
	case *f.store != "":
		tokens, err = benchTokens(ctx, *f.store, parties)
	default:
		return errors.New("give --store (the server's store) or --tokens FILE, so that the bench has a token of each party")
	}
	if err != nil {
		return err
	}
	s, err := m.scenario(f, n, res)
	if err != nil {
		return err
	}
	s.Index, s.Parsed = nil, nil
	r := &loadgen.Runner{Server: strings.TrimRight(*f.server, "/"), Tokens: tokens, Clients: *f.clients,
		Progress: m.Stderr, ProgressEvery: *f.every}
	res.Server, res.Clients = r.Server, clientsOf(r)
	ph, err := r.Declare(ctx, s.Operations)
	if err != nil {
		return err
	}
	res.Phases = append(res.Phases, ph)
	m.printPhase(ph)
	if len(s.Queries) > 0 {
		ph, err := r.Check(ctx, s.Queries, parties)
		if err != nil {
			return err
		}
		res.Phases = append(res.Phases, ph)
		m.printPhase(ph)
	}
	for _, ph := range res.Phases {
		if ph.Errors > 0 {
			return fmt.Errorf("%d of %d %s requests failed; the first: %s", ph.Errors, ph.Requests, ph.Name, ph.FirstError)
		}
	}
	return nil
}

func (m *Main) printPhase(ph loadgen.Phase) {
	l := ph.Latency
	fmt.Fprintf(m.Stderr, "%s: %d requests, %d errors, %.0f/s; latency p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms; %d answers listed conflicts\n",
		ph.Name, ph.Requests, ph.Errors, ph.PerSecond, l.P50, l.P90, l.P99, l.Max, ph.WithConflicts)
	if v := ph.Server; v != nil {
		fmt.Fprintf(m.Stderr, "  server: %.0f group commits of %.1f writes, writer busy %.0f %% of the time, commit %.2f ms on average",
			v.Batches, v.WritesPerBatch, 100*v.WriterBusy, v.CommitMeanMS)
		if v.CheckpointMeanMS > 0 {
			fmt.Fprintf(m.Stderr, ", checkpoint %.2f ms", v.CheckpointMeanMS)
		}
		fmt.Fprintln(m.Stderr)
	}
}

// clientsOf is the number of clients a runner uses.
func clientsOf(r *loadgen.Runner) int {
	if r.Clients <= 0 {
		return 8
	}
	return r.Clients
}

// readTokens reads "PARTY TOKEN" lines; blank lines and # comments are
// skipped.
func readTokens(path string) (map[string]string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--tokens: %w", err)
	}
	defer fh.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(fh)
	for line := 1; sc.Scan(); line++ {
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		fields := strings.Fields(t)
		if len(fields) != 2 {
			return nil, fmt.Errorf("--tokens %s:%d: want PARTY TOKEN", path, line)
		}
		out[fields[0]] = fields[1]
	}
	return out, sc.Err()
}

// benchTokens creates the parties that do not exist yet in the store and
// issues an operator token for each, labelled "bench".
func benchTokens(ctx context.Context, url string, parties []string) (map[string]string, error) {
	out := map[string]string{}
	err := withMechanism(ctx, url, func(mech *mechanism.Mechanism) error {
		for _, p := range parties {
			if _, err := mech.AddParty(ctx, p, ""); err != nil && dc.ErrorCode(err) != dc.EExists {
				return fmt.Errorf("add party %s: %w", p, err)
			}
			secret, _, err := mech.IssueToken(ctx, dc.RoleOperator, p, "bench")
			if err != nil {
				return fmt.Errorf("issue token for %s: %w", p, err)
			}
			out[p] = secret
		}
		return nil
	})
	return out, err
}

func (m *Main) benchIndex(f benchFlags, sizes []int, res *loadgen.Result) error {
	mins := geo.MinimaOf(dc.DefaultSettings())
	for _, n := range sizes {
		s, err := m.scenario(f, n, res)
		if err != nil {
			return err
		}
		ix, run, err := loadgen.LoadIndex(s)
		if err != nil {
			return err
		}
		if _, err := loadgen.MeasureChecks(ix, s.Queries, mins, &run); err != nil {
			return err
		}
		res.Index = append(res.Index, run)
		fmt.Fprintf(m.Stderr, "index of %d operations: loaded in %.2f s, %.0f bytes per operation; %d checks: p50 %.1f µs, p90 %.1f µs, p99 %.1f µs, max %.1f µs; %.2f hits per check\n",
			n, run.LoadSeconds, run.BytesPerOperation, run.Checks, 1000*run.Latency.P50, 1000*run.Latency.P90,
			1000*run.Latency.P99, 1000*run.Latency.Max, run.HitsPerCheck)
		runtime.GC()
	}
	return nil
}

func (m *Main) benchPostGIS(ctx context.Context, f benchFlags, n int, res *loadgen.Result) error {
	if *f.postgis == "" {
		return errors.New("--mode postgis needs --postgis URL (scripts/postgres start --postgis gives one)")
	}
	s, err := m.scenario(f, n, res)
	if err != nil {
		return err
	}
	db, err := postgis.Open(ctx, *f.postgis, *f.schema)
	if err != nil {
		return err
	}
	defer db.Close(context.WithoutCancel(ctx))
	mins := geo.MinimaOf(dc.DefaultSettings())
	ix, run, err := loadgen.LoadIndex(s)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stderr, "index loaded in %.2f s; loading PostGIS\n", run.LoadSeconds)
	c, err := postgis.Compare(ctx, db, s, ix, mins, m.Stderr)
	if err != nil {
		return err
	}
	run.Checks, run.Latency = c.Checks, c.Geo
	res.Index = append(res.Index, run)
	res.PostGIS = c
	fmt.Fprintf(m.Stderr, "%s: loaded %d volumes in %.1f s + GiST index %.1f s\n", c.Version, c.Load.Volumes, c.Load.CopySeconds, c.Load.IndexSeconds)
	fmt.Fprintf(m.Stderr, "%d checks against %d operations: geo p50 %.1f µs p99 %.1f µs mean %.1f µs; PostGIS p50 %.0f µs p99 %.0f µs mean %.0f µs\n",
		c.Checks, n, 1000*c.Geo.P50, 1000*c.Geo.P99, 1000*c.Geo.Mean, 1000*c.PostGIS.P50, 1000*c.PostGIS.P99, 1000*c.PostGIS.Mean)
	fmt.Fprintf(m.Stderr, "geo is %.0f× faster (mean), %.0f× (p50), %.0f× (p99); asked in turn with PostGIS: geo p50 %.1f µs, %.0f× (mean), %.0f× (p50)\n",
		c.RatioMean, c.RatioP50, c.RatioP99, 1000*c.GeoInterleaved.P50, c.RatioInterleavedMean, c.RatioInterleavedP50)
	fmt.Fprintf(m.Stderr, "PostgreSQL round trip (SELECT 1): p50 %.0f µs\n", 1000*c.RoundTrip.P50)
	fmt.Fprintf(m.Stderr, "%d conflicts found, %d disagreements (%d within 1 m of the minimum)\n", c.Hits, len(c.Disagreements), c.AtThreshold)
	if bad := len(c.Disagreements) - c.AtThreshold; bad > 0 {
		return fmt.Errorf("PostGIS and geo disagree on %d pairs beyond the 1 m tolerance (listed in %s)", bad, *f.out)
	}
	return nil
}

func (m *Main) benchScale(ctx context.Context, f benchFlags, sizes []int, res *loadgen.Result) error {
	dir := *f.dir
	if dir == "" {
		d, err := os.MkdirTemp("", "deconflict-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	for _, n := range sizes {
		run, err := m.scaleOne(ctx, f, n, filepath.Join(dir, fmt.Sprintf("scale-%d.db", n)), res)
		if err != nil {
			return err
		}
		res.Scale = append(res.Scale, run)
	}
	return nil
}

// scaleOne measures a server with n live operations.
func (m *Main) scaleOne(ctx context.Context, f benchFlags, n int, path string, res *loadgen.Result) (loadgen.ScaleRun, error) {
	run := loadgen.ScaleRun{Operations: n}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(path + suffix)
	}
	url := "sqlite:" + path
	parties := strings.Split(*f.parties, ",")
	tokens, err := benchTokens(ctx, url, parties)
	if err != nil {
		return run, err
	}
	s, err := m.scenario(f, n, res)
	if err != nil {
		return run, err
	}
	s.Index, s.Parsed = nil, nil
	switch *f.preload {
	case "mechanism":
		err = m.preloadMechanism(ctx, f, url, s, &run)
	case "direct":
		err = m.preloadDirect(ctx, f, url, s, &run)
	default:
		err = fmt.Errorf("unknown --preload %q (want mechanism or direct)", *f.preload)
	}
	if err != nil {
		return run, err
	}

	// Start a server on the store, in process, as 'deconflict serve',
	// without the preloaded operations still on the heap.
	s.Operations = nil
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	addr, stop, took, err := startBenchServer(ctx, url)
	if err != nil {
		return run, err
	}
	defer stop()
	run.StartSeconds = took.Seconds()
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	run.HeapBytes = int64(after.HeapAlloc) - int64(before.HeapAlloc)
	fmt.Fprintf(m.Stderr, "%d operations preloaded in %.1f s; server started in %.2f s, heap +%d MB\n",
		n, run.PreloadSeconds, run.StartSeconds, run.HeapBytes>>20)
	if *f.preload == "direct" { // the store has no record to add to
		if err := stop(); err != nil {
			return run, err
		}
		return run, restartBench(ctx, m, url, &run)
	}
	// The scenario's queries, of the parties in turn, are the further
	// declarations.
	extra := s.Queries
	for i := range extra {
		extra[i].Party = parties[i%len(parties)]
	}
	r := &loadgen.Runner{Server: "http://" + addr, Tokens: tokens, Clients: *f.clients, Progress: m.Stderr, ProgressEvery: *f.every}
	res.Clients = clientsOf(r)
	run.Declare, err = r.Declare(ctx, extra)
	if err != nil {
		return run, err
	}
	m.printPhase(run.Declare)
	if err := stop(); err != nil {
		return run, err
	}
	if run.Declare.Errors > 0 {
		return run, fmt.Errorf("%d declarations failed; the first: %s", run.Declare.Errors, run.Declare.FirstError)
	}
	return run, restartBench(ctx, m, url, &run)
}

// restartBench times a second start of a server on the store, after the
// clean stop of the first: the restart an upgrade or a reboot costs, which
// reads the index snapshot the stop saved.
func restartBench(ctx context.Context, m *Main, url string, run *loadgen.ScaleRun) error {
	_, stop, took, err := startBenchServer(ctx, url)
	if err != nil {
		return err
	}
	run.RestartSeconds = took.Seconds()
	fmt.Fprintf(m.Stderr, "restarted in %.2f s (from the index snapshot)\n", run.RestartSeconds)
	return stop()
}

// startBenchServer starts 'deconflict serve' on the store in process and
// returns its address, the function that stops it (cleanly, saving the
// index snapshot) and how long it took to answer.
func startBenchServer(ctx context.Context, url string) (addr string, stop func() error, took time.Duration, err error) {
	sctx, cancel := context.WithCancel(ctx)
	ready := make(chan string, 1)
	done := make(chan int, 1)
	var logs strings.Builder
	srv := &Main{Stdout: io.Discard, Stderr: &syncWriter{w: &logs}, Getenv: func(string) string { return "" },
		Ready: func(addr string) { ready <- addr }}
	t0 := time.Now()
	go func() {
		done <- srv.Run(sctx, []string{"serve", "--listen", "127.0.0.1:0", "--store", url, "--rate-limit", "0", "--log-level", "warn"})
	}()
	select {
	case addr = <-ready:
	case code := <-done:
		cancel()
		return "", nil, 0, fmt.Errorf("server exited with %d: %s", code, logs.String())
	case <-ctx.Done():
		cancel()
		<-done
		return "", nil, 0, ctx.Err()
	}
	took = time.Since(t0)
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		if code := <-done; code != 0 {
			return fmt.Errorf("server exited with %d: %s", code, logs.String())
		}
		return nil
	}
	return addr, stop, took, nil
}

// preloadCallers is the number of concurrent callers of a preload: many,
// so that the mechanism commits large groups.
const preloadCallers = 32

// preloadMechanism declares the scenario's operations through the
// mechanism, with preloadCallers concurrent callers.
func (m *Main) preloadMechanism(ctx context.Context, f benchFlags, url string, s *loadgen.Scenario, run *loadgen.ScaleRun) error {
	n := len(s.Operations)
	return withMechanism(ctx, url, func(mech *mechanism.Mechanism) error {
		if err := mech.Load(ctx); err != nil {
			return err
		}
		prog := loadgen.StartProgress(m.Stderr, "preload", n, *f.every)
		defer prog.Done()
		t0 := time.Now()
		var next atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, preloadCallers)
		for range preloadCallers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					i := int(next.Add(1) - 1)
					if i >= n {
						return
					}
					op := &s.Operations[i]
					a := dc.Actor{Party: op.Party, Role: dc.RoleOperator}
					if _, err := mech.Declare(ctx, a, op.ID, mechanism.Declaration{Volumes: op.Volumes, State: dc.StatePlanned}, nil); err != nil {
						errs <- fmt.Errorf("declare %s: %w", op.ID, err)
						return
					}
					prog.Add(1, 0)
				}
			}()
		}
		wg.Wait()
		close(errs)
		run.PreloadSeconds = time.Since(t0).Seconds()
		if err := <-errs; err != nil {
			return err
		}
		return ctx.Err()
	})
}

// preloadDirect writes the scenario's operations straight into the store
// as rows, in transactions of 5,000, without events, conflicts or record:
// a store only good for timing how long a server takes to load them.
func (m *Main) preloadDirect(ctx context.Context, f benchFlags, url string, s *loadgen.Scenario, run *loadgen.ScaleRun) error {
	st, err := openStore(ctx, url)
	if err != nil {
		return err
	}
	defer st.Close()
	prog := loadgen.StartProgress(m.Stderr, "preload", len(s.Operations), *f.every)
	defer prog.Done()
	t0 := time.Now()
	now := time.Now().UTC()
	for lo := 0; lo < len(s.Operations); lo += 5000 {
		hi := min(lo+5000, len(s.Operations))
		err := st.Update(ctx, func(tx dc.Tx) error {
			for i := lo; i < hi; i++ {
				g := &s.Operations[i]
				vols, err := g.Parsed()
				if err != nil {
					return err
				}
				op := &dc.Operation{ID: g.ID, Party: g.Party, Version: 1, State: dc.StatePlanned, Volumes: g.Volumes,
					CreatedAt: now, UpdatedAt: now, Start: vols[0].Start, End: vols[0].End, Rev: 1}
				for _, v := range vols {
					op.Start, op.End = minTime(op.Start, v.Start), maxTime(op.End, v.End)
				}
				if err := tx.PutOperation(ctx, op); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		prog.Add(hi-lo, 0)
	}
	run.PreloadSeconds = time.Since(t0).Seconds()
	return nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// syncWriter is a writer safe for concurrent use.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (m *Main) benchPlot(args []string) error {
	fs := m.newFlags("bench plot", "bench plot [--dir DIR] RESULT.json...")
	dir := fs.String("dir", "docs", "directory to write the SVG files to")
	files, err := m.parse(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		fs.Usage()
		return errUsage
	}
	written, err := plot.Results(files, *dir)
	for _, w := range written {
		fmt.Fprintln(m.Stdout, w)
	}
	return err
}
