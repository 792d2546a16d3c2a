package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/deconflict/deconflict/loadgen"
)

// What the check and reads modes share: a store made once and kept (a
// bed), a server process whose CPU time is read (serverProcess), and a
// load measured on it.

// workDir returns --dir, or a new temporary directory that done removes.
func workDir(f benchFlags) (dir string, done func(), err error) {
	if *f.dir != "" {
		return *f.dir, func() {}, nil
	}
	d, err := os.MkdirTemp("", "deconflict-bench-")
	if err != nil {
		return "", nil, err
	}
	return d, func() { os.RemoveAll(d) }, nil
}

// A bed is what the check and reads modes measure on: the scenario of
// their operations, without its index, and a store of them made once and
// kept in the work directory for later runs (path.ready marks one made
// to the end).
type bed struct {
	s      *loadgen.Scenario
	counts []int  // --check-clients: the loads' numbers of clients
	dir    string // the work directory
	path   string // the store's file
	url    string // the store's URL
	close  func() // removes the work directory if it is a temporary one
}

// newBed returns the bed of mode with n operations. The first time, it
// makes its store: prepare readies the new store at url (tokens,
// settings), then preload fills it with the operations, which the output
// says were "preloaded" into it.
func (m *Main) newBed(ctx context.Context, f benchFlags, mode string, n int, res *loadgen.Result, prepare func(url string) error,
	preload func(ctx context.Context, f benchFlags, url string, s *loadgen.Scenario, run *loadgen.ScaleRun) error, preloaded string) (*bed, error) {
	counts, err := parseSizes(*f.check.clients)
	if err != nil {
		return nil, fmt.Errorf("--check-clients: %w", err)
	}
	s, err := m.scenario(f, n, res)
	if err != nil {
		return nil, err
	}
	s.Index, s.Parsed = nil, nil
	dir, done, err := workDir(f)
	if err != nil {
		return nil, err
	}
	b := &bed{s: s, counts: counts, dir: dir, close: done}
	b.path = filepath.Join(dir, fmt.Sprintf("%s-%d-seed%d-%s.db", mode, n, *f.seed, s.Config.Start.Format("20060102")))
	b.url = "sqlite:" + b.path
	if _, err := os.Stat(b.path + ".ready"); err == nil {
		fmt.Fprintf(m.Stderr, "using the store %s\n", b.path)
		return b, nil
	}
	for _, suffix := range []string{"", "-wal", "-shm", ".index", ".ready"} {
		os.Remove(b.path + suffix)
	}
	var run loadgen.ScaleRun
	err = prepare(b.url)
	if err == nil {
		err = preload(ctx, f, b.url, s, &run)
	}
	if err == nil {
		fmt.Fprintf(m.Stderr, "%d operations %s %s in %.1f s\n", n, preloaded, b.path, run.PreloadSeconds)
		err = os.WriteFile(b.path+".ready", nil, 0o644)
	}
	if err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

// startServer starts the server binary (--deconflict) on the bed's
// store, its log in the work directory and its profiles served if
// --profile asks for them, and notes it in res.
func (b *bed) startServer(ctx context.Context, m *Main, f benchFlags, res *loadgen.Result) (*serverProcess, error) {
	bin, err := serverBinary(*f.deconflict)
	if err != nil {
		return nil, err
	}
	srv, err := startServerProcess(ctx, bin, b.url, *f.check.profile != "", filepath.Join(b.dir, "server.log"))
	if err != nil {
		return nil, err
	}
	res.Server = srv.base
	fmt.Fprintf(m.Stderr, "server ready at %s in %.1f s\n", srv.base, srv.took.Seconds())
	return srv, nil
}

// maxWarmUp bounds the warm-up of a load.
const maxWarmUp = time.Minute

// measure runs a load that newLoad makes, of c clients, on srv: a
// warm-up, then --duration of it, measured, with the server's CPU time
// per request and, with --profile, a CPU profile of the server into the
// file profile there.
//
// The warm-up lasts a second (connections opened, caches filled), and
// longer if need be, until the server has collected garbage once since it
// answered ready, for at most maxWarmUp: until then its heap grows to the
// collector's goal (the server's heap floor, gcfloor.Server), and every
// page it takes is faulted in and zeroed, which a server pays once in its
// life and not per request.
func (m *Main) measure(ctx context.Context, f benchFlags, srv *serverProcess, name string, c int, profile string, newLoad func() (loadgen.Request, error)) (loadgen.Load, error) {
	warm, err := newLoad()
	if err != nil {
		return loadgen.Load{}, err
	}
	t0 := time.Now()
	loadgen.RunFor(ctx, "warm-up", c, time.Second, warm)
	for srv.gcReady >= 0 && srv.gcCount(ctx) <= srv.gcReady && time.Since(t0) < maxWarmUp && ctx.Err() == nil {
		loadgen.RunFor(ctx, "warm-up", c, time.Second, warm)
	}
	if d := time.Since(t0); d > 2*time.Second {
		fmt.Fprintf(m.Stderr, "warm-up %.0f s, until the server's first garbage collection\n", d.Seconds())
	}
	load, err := newLoad()
	if err != nil {
		return loadgen.Load{}, err
	}
	stopProfile := func() error { return nil }
	if *f.check.profile != "" {
		stopProfile = srv.profile(ctx, *f.check.duration-time.Second, filepath.Join(*f.check.profile, profile))
	}
	cpu0, cpuOK := srv.cpu()
	ld := loadgen.RunFor(ctx, name, c, *f.check.duration, load)
	if cpu1, ok := srv.cpu(); ok && cpuOK && ld.Requests > 0 {
		ld.ServerCPUPerRequestUS = float64((cpu1 - cpu0).Microseconds()) / float64(ld.Requests)
	}
	if err := stopProfile(); err != nil {
		fmt.Fprintf(m.Stderr, "profile: %v\n", err)
	}
	return ld, nil
}
