package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/geo"
	"github.com/deconflict/deconflict/internal/storeurl"
	"github.com/deconflict/deconflict/loadgen"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/postgis"
)

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
			if _, err := mech.Access().AddParty(ctx, p, ""); err != nil && dc.ErrorCode(err) != dc.EExists {
				return fmt.Errorf("add party %s: %w", p, err)
			}
			secret, _, err := mech.Access().IssueToken(ctx, dc.RoleOperator, p, "bench")
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

// withMechanism opens the store url names, runs fn on a mechanism over it
// and closes the store.
func withMechanism(ctx context.Context, url string, fn func(*mechanism.Mechanism) error) error {
	st, err := storeurl.Open(ctx, url)
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(mechanism.New(st, mechanism.Options{}))
}
