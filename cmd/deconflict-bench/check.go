package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
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
}

func addCheckFlags(fs *flag.FlagSet) checkFlags {
	return checkFlags{
		duration: fs.Duration("duration", 10*time.Second, "check: how long each load runs"),
		clients:  fs.String("check-clients", "8,1", "check: the numbers of concurrent clients, one load each"),
		profile:  fs.String("profile", "", "check: save a CPU profile of the server under each load in this directory"),
		near:     fs.Float64("near", 0.5, "check: fraction of checks placed where traffic is"),
		client:   fs.String("client", "raw", "check: the HTTP client of the load: raw (bare keep-alive connections, light on the CPU the server shares) or net/http"),
	}
}

// benchCheck measures what-if checks over HTTP against a server with n
// live operations, and the same checks against PostGIS if asked.
func (m *Main) benchCheck(ctx context.Context, f benchFlags, n int, res *loadgen.Result) error {
	counts, err := parseSizes(*f.check.clients)
	if err != nil {
		return fmt.Errorf("--check-clients: %w", err)
	}
	dir := *f.dir
	if dir == "" {
		d, err := os.MkdirTemp("", "deconflict-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	s, err := m.scenario(f, n, res)
	if err != nil {
		return err
	}
	s.Index, s.Parsed = nil, nil
	path := filepath.Join(dir, fmt.Sprintf("check-%d-seed%d-%s.db", n, *f.seed, s.Config.Start.Format("20060102")))
	url := "sqlite:" + path
	if _, err := os.Stat(path + ".ready"); err != nil {
		for _, suffix := range []string{"", "-wal", "-shm", ".index", ".ready"} {
			os.Remove(path + suffix)
		}
		parties := append(strings.Split(*f.parties, ","), loadgen.QueryParty)
		if _, err := benchTokens(ctx, url, parties); err != nil {
			return err
		}
		var run loadgen.ScaleRun
		if err := m.preloadDirect(ctx, f, url, s, &run); err != nil {
			return err
		}
		if err := os.WriteFile(path+".ready", nil, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(m.Stderr, "%d operations written to %s in %.1f s\n", n, path, run.PreloadSeconds)
	} else {
		fmt.Fprintf(m.Stderr, "using the store %s\n", path)
	}
	tokens, err := benchTokens(ctx, url, []string{loadgen.QueryParty})
	if err != nil {
		return err
	}
	checks := s.CircleChecks(*f.queries, *f.seed, *f.check.near)
	bodies, err := loadgen.CheckBodies(checks)
	if err != nil {
		return err
	}

	bin, err := serverBinary(*f.deconflict)
	if err != nil {
		return err
	}
	srv, err := startServerProcess(ctx, bin, url, *f.check.profile != "", filepath.Join(dir, "server.log"))
	if err != nil {
		return err
	}
	defer srv.stop()
	res.Server = srv.base
	fmt.Fprintf(m.Stderr, "server ready at %s in %.1f s\n", srv.base, srv.took.Seconds())

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

	for _, c := range counts {
		checker := func() (loadgen.Request, error) {
			if *f.check.client == "net/http" {
				return loadgen.HTTPChecks(srv.base, tokens[loadgen.QueryParty], c, bodies), nil
			}
			return loadgen.RawHTTPChecks(srv.base, tokens[loadgen.QueryParty], c, bodies)
		}
		// A second's warm-up: connections opened, caches filled.
		warm, err := checker()
		if err != nil {
			return err
		}
		loadgen.RunFor(ctx, "warm-up", c, time.Second, warm)
		load, err := checker()
		if err != nil {
			return err
		}
		stopProfile := func() error { return nil }
		if *f.check.profile != "" {
			stopProfile = srv.profile(ctx, *f.check.duration-time.Second, filepath.Join(*f.check.profile, fmt.Sprintf("check-%d-c%d.pprof", n, c)))
		}
		cpu0, cpuOK := srv.cpu()
		ld := loadgen.RunFor(ctx, "deconflict POST /v1/check", c, *f.check.duration, load)
		if cpu1, ok := srv.cpu(); ok && cpuOK && ld.Requests > 0 {
			ld.ServerCPUPerRequestUS = float64((cpu1 - cpu0).Microseconds()) / float64(ld.Requests)
		}
		if err := stopProfile(); err != nil {
			fmt.Fprintf(m.Stderr, "profile: %v\n", err)
		}
		m.printLoad(ld)
		res.Loads = append(res.Loads, ld)
		if ld.Errors > 0 {
			return fmt.Errorf("%d of %d checks failed; the first: %s", ld.Errors, ld.Requests, ld.FirstError)
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

// serverProcess is 'deconflict serve' run as a process of its own, with
// its log in a file and, if asked, its runtime profiles served (--pprof).
type serverProcess struct {
	cmd   *exec.Cmd
	base  string
	pprof string // address of its profiles, if any
	took  time.Duration
	done  chan error
	once  sync.Once
}

// startServerProcess starts exe serve on the store, with its profiles
// served if asked, and waits until /readyz answers 200.
func startServerProcess(ctx context.Context, exe, url string, profiles bool, logFile string) (*serverProcess, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	args := []string{"serve", "--listen", addr, "--store", url, "--rate-limit", "0", "--log-level", "warn"}
	p := &serverProcess{base: "http://" + addr, done: make(chan error, 1)}
	if profiles {
		if p.pprof, err = freePort(); err != nil {
			return nil, err
		}
		args = append(args, "--pprof", p.pprof)
	}
	logs, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	p.cmd = exec.Command(exe, args...)
	p.cmd.Stdout, p.cmd.Stderr = logs, logs
	t0 := time.Now()
	if err := p.cmd.Start(); err != nil {
		logs.Close()
		return nil, err
	}
	go func() { p.done <- p.cmd.Wait(); logs.Close() }()
	for {
		resp, err := http.Get(p.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				p.took = time.Since(t0)
				return p, nil
			}
		}
		select {
		case err := <-p.done:
			return nil, fmt.Errorf("server exited (%v); its log: %s", err, logFile)
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// profile starts a CPU profile of the server over d and returns the
// function that waits for it and writes it to file.
func (p *serverProcess) profile(ctx context.Context, d time.Duration, file string) func() error {
	errc := make(chan error, 1)
	go func() {
		secs := max(1, int(d.Seconds()))
		resp, err := http.Get("http://" + p.pprof + "/debug/pprof/profile?seconds=" + strconv.Itoa(secs))
		if err != nil {
			errc <- err
			return
		}
		defer resp.Body.Close()
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			errc <- err
			return
		}
		fh, err := os.Create(file)
		if err != nil {
			errc <- err
			return
		}
		_, err = io.Copy(fh, resp.Body)
		errc <- errors.Join(err, fh.Close())
	}()
	return func() error {
		select {
		case err := <-errc:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// cpu returns the CPU time (user and system) the server process has used,
// from /proc; false where that cannot be read.
func (p *serverProcess) cpu() (time.Duration, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0, false
	}
	// The fields after the command name, which is in parentheses and
	// may hold spaces: utime and stime are the 12th and 13th, in clock
	// ticks (100 a second on Linux).
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, true
}

// stop ends the server cleanly (SIGINT) and waits for it.
func (p *serverProcess) stop() {
	p.once.Do(func() {
		_ = p.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-p.done:
		case <-time.After(60 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
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
