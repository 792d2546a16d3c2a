package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/geo"
	"github.com/deconflict/deconflict/loadgen"
	"github.com/deconflict/deconflict/postgis"
)

// checkFlags are the flags of bench --mode check.
type checkFlags struct {
	duration *time.Duration
	clients  *string
	profile  *string
	near     *float64
	client   *string
	floor    *bool
}

func addCheckFlags(fs *flag.FlagSet) checkFlags {
	return checkFlags{
		duration: fs.Duration("duration", 10*time.Second, "check: how long each load runs"),
		clients:  fs.String("check-clients", "8,1", "check: the numbers of concurrent clients, one load each"),
		profile:  fs.String("profile", "", "check: save a CPU profile of the server under each load in this directory"),
		near:     fs.Float64("near", 0.5, "check: fraction of checks placed where traffic is"),
		client:   fs.String("client", "raw", "check: the HTTP client of the load: raw (bare keep-alive connections, light on the CPU the server shares) or net/http"),
		floor:    fs.Bool("floor", false, "check: after each load, the same load against net/http answering a fixed answer of the same size (the floor of this machine)"),
	}
}

// benchCheck measures what-if checks over HTTP against a server with n
// live operations, and the same checks against PostGIS if asked.
func (m *Main) benchCheck(ctx context.Context, f benchFlags, n int, res *loadgen.Result) error {
	b, err := m.newBed(ctx, f, "check", n, res, func(url string) error {
		_, err := benchTokens(ctx, url, append(strings.Split(*f.parties, ","), loadgen.QueryParty))
		return err
	}, m.preloadDirect, "written to")
	if err != nil {
		return err
	}
	defer b.close()
	s, url := b.s, b.url
	tokens, err := benchTokens(ctx, url, []string{loadgen.QueryParty})
	if err != nil {
		return err
	}
	checks := s.CircleChecks(*f.queries, *f.seed, *f.check.near)
	bodies, err := loadgen.CheckBodies(checks)
	if err != nil {
		return err
	}

	srv, err := b.startServer(ctx, m, f, res)
	if err != nil {
		return err
	}
	defer srv.stop()

	var pg []*postgis.DB
	defer func() {
		for _, db := range pg {
			db.Close(context.WithoutCancel(ctx))
		}
	}()
	mins := geo.MinimaOf(dc.DefaultSettings())
	if *f.postgis != "" {
		db, err := postgis.Open(ctx, *f.postgis, *f.schema)
		if err != nil {
			return err
		}
		pg = append(pg, db)
		st, err := db.Load(ctx, s.Operations)
		if err != nil {
			return err
		}
		fmt.Fprintf(m.Stderr, "PostGIS loaded: %d volumes in %.1f s + GiST index %.1f s\n", st.Volumes, st.CopySeconds, st.IndexSeconds)
		if err := m.checkAgreement(ctx, srv.base, tokens[loadgen.QueryParty], db, checks, bodies, mins); err != nil {
			return err
		}
	}

	newLoad := func(base string, c int) (loadgen.Request, error) {
		if *f.check.client == "net/http" {
			return loadgen.HTTPChecks(base, tokens[loadgen.QueryParty], c, bodies), nil
		}
		return loadgen.RawHTTPChecks(base, tokens[loadgen.QueryParty], c, bodies)
	}
	var floor *serverProcess
	defer func() {
		if floor != nil {
			floor.stop()
		}
	}()
	for _, c := range b.counts {
		ld, err := m.measure(ctx, f, srv, "deconflict POST /v1/check", c, fmt.Sprintf("check-%d-c%d.pprof", n, c), func() (loadgen.Request, error) {
			return newLoad(srv.base, c)
		})
		if err != nil {
			return err
		}
		m.printLoad(ld)
		res.Loads = append(res.Loads, ld)
		if ld.Errors > 0 {
			return fmt.Errorf("%d of %d checks failed; the first: %s", ld.Errors, ld.Requests, ld.FirstError)
		}
		if *f.check.floor {
			if floor == nil {
				if floor, err = startFloor(ctx, b.dir, max(25, int(ld.BytesPerAnswer+0.5)), *f.check.profile != ""); err != nil {
					return err
				}
			}
			fl, err := m.measureFloor(ctx, f, floor, c, fmt.Sprintf("floor-c%d.pprof", c), func(base string) (loadgen.Request, error) { return newLoad(base, c) })
			if err != nil {
				return err
			}
			res.Loads = append(res.Loads, fl)
			if fl.Errors > 0 {
				return fmt.Errorf("%d of %d requests to the floor failed; the first: %s", fl.Errors, fl.Requests, fl.FirstError)
			}
		}
		if len(pg) == 0 {
			continue
		}
		for len(pg) < c {
			db, err := postgis.Attach(ctx, *f.postgis, *f.schema)
			if err != nil {
				return err
			}
			pg = append(pg, db)
		}
		// pg[0] was loaded, the others attached: every one knows the
		// largest radius.
		if len(pg) > 1 {
			db, err := postgis.Attach(ctx, *f.postgis, *f.schema)
			if err != nil {
				return err
			}
			pg[0].Close(ctx)
			pg[0] = db
		}
		pgCheck := func(ctx context.Context, worker, i int) (int, int, error) {
			ids, err := pg[worker].Conflicts(ctx, checks[i%len(checks)].Volumes, loadgen.QueryParty, mins)
			return len(ids), 0, err
		}
		ld = loadgen.RunFor(ctx, "PostGIS query", c, *f.check.duration, pgCheck)
		m.printLoad(ld)
		res.Loads = append(res.Loads, ld)
		if ld.Errors > 0 && ctx.Err() == nil {
			return fmt.Errorf("%d of %d PostGIS checks failed; the first: %s", ld.Errors, ld.Requests, ld.FirstError)
		}
	}
	return ctx.Err()
}

func (m *Main) printLoad(ld loadgen.Load) {
	l := ld.Latency
	fmt.Fprintf(m.Stderr, "%s, %d clients: %d in %.1f s, %.0f/s, %d errors; latency p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, max %.2f ms; %.2f conflicts per check",
		ld.Name, ld.Clients, ld.Requests, ld.Seconds, ld.PerSecond, ld.Errors, l.P50, l.P90, l.P99, l.Max, ld.ConflictsPerCheck)
	if ld.BytesPerAnswer > 0 {
		fmt.Fprintf(m.Stderr, ", %.0f bytes per answer", ld.BytesPerAnswer)
	}
	if ld.ServerCPUPerRequestUS > 0 {
		fmt.Fprintf(m.Stderr, "; server CPU %.0f µs per check", ld.ServerCPUPerRequestUS)
	}
	fmt.Fprintln(m.Stderr)
}

// checkAgreement sends every check to the server, twice (the second
// answer from the views it keeps), and to PostGIS, and fails unless all
// three list the same operations.
func (m *Main) checkAgreement(ctx context.Context, server, token string, db *postgis.DB, checks []loadgen.Operation, bodies [][]byte, mins geo.Minima) error {
	client := &http.Client{Timeout: time.Minute}
	ask := func(i int) ([]string, error) {
		req, err := http.NewRequestWithContext(ctx, "POST", server+"/v1/check", bytes.NewReader(bodies[i]))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		var answer struct {
			Conflicts []struct {
				Operation struct {
					ID string `json:"id"`
				} `json:"operation"`
			} `json:"conflicts"`
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("POST /v1/check: %s", resp.Status)
		}
		if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
			return nil, err
		}
		ids := []string{}
		for _, c := range answer.Conflicts {
			ids = append(ids, c.Operation.ID)
		}
		slices.Sort(ids)
		return ids, nil
	}
	conflicts := 0
	for i := range checks {
		first, err := ask(i)
		if err != nil {
			return err
		}
		again, err := ask(i)
		if err != nil {
			return err
		}
		want, err := db.Conflicts(ctx, checks[i].Volumes, loadgen.QueryParty, mins)
		if err != nil {
			return err
		}
		want = append([]string{}, want...)
		slices.Sort(want)
		if !slices.Equal(first, want) || !slices.Equal(again, want) {
			return fmt.Errorf("check %d: the server lists %v (then %v), PostGIS %v", i, first, again, want)
		}
		conflicts += len(want)
	}
	fmt.Fprintf(m.Stderr, "%d checks over HTTP, each asked twice, agree with PostGIS on every one of %d conflicts\n", len(checks), conflicts)
	return nil
}
