package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/deconflict/deconflict/loadgen"
)

// What the check and reads modes share: a store made once and kept, a
// server process whose CPU time is read (serverProcess), and a load
// measured on it.

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

// keptStore returns the URL of the SQLite store at path: made by build
// the first time, and then kept for later runs (path.ready marks one
// made to the end).
func (m *Main) keptStore(path string, build func(url string) error) (string, error) {
	url := "sqlite:" + path
	if _, err := os.Stat(path + ".ready"); err == nil {
		fmt.Fprintf(m.Stderr, "using the store %s\n", path)
		return url, nil
	}
	for _, suffix := range []string{"", "-wal", "-shm", ".index", ".ready"} {
		os.Remove(path + suffix)
	}
	if err := build(url); err != nil {
		return "", err
	}
	return url, os.WriteFile(path+".ready", nil, 0o644)
}

// startMeasured starts the server binary (--deconflict) on the store at
// url, its log in dir and its profiles served if --profile asks for them,
// and notes it in res.
func (m *Main) startMeasured(ctx context.Context, f benchFlags, url, dir string, res *loadgen.Result) (*serverProcess, error) {
	bin, err := serverBinary(*f.deconflict)
	if err != nil {
		return nil, err
	}
	srv, err := startServerProcess(ctx, bin, url, *f.check.profile != "", filepath.Join(dir, "server.log"))
	if err != nil {
		return nil, err
	}
	res.Server = srv.base
	fmt.Fprintf(m.Stderr, "server ready at %s in %.1f s\n", srv.base, srv.took.Seconds())
	return srv, nil
}

// measure runs a load that newLoad makes, of c clients, on srv: a second
// of warm-up (connections opened, caches filled), then --duration of it,
// measured, with the server's CPU time per request and, with --profile,
// a CPU profile of the server into the file profile there.
func (m *Main) measure(ctx context.Context, f benchFlags, srv *serverProcess, name string, c int, profile string, newLoad func() (loadgen.Request, error)) (loadgen.Load, error) {
	warm, err := newLoad()
	if err != nil {
		return loadgen.Load{}, err
	}
	loadgen.RunFor(ctx, "warm-up", c, time.Second, warm)
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
