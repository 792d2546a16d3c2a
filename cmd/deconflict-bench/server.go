package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/deconflict/deconflict/loadgen"
)

// serverBinary returns the deconflict binary the scale mode starts: flag if
// set, else deconflict in the directory of this program, else on PATH.
func serverBinary(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), "deconflict")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	p, err := exec.LookPath("deconflict")
	if err != nil {
		return "", errors.New("--mode scale starts the server binary: build it (go build ./cmd/deconflict) and give it as --deconflict PATH")
	}
	return p, nil
}

// server is a 'deconflict serve' process the scale mode started.
type server struct {
	base string        // http://127.0.0.1:PORT
	took time.Duration // from starting the process to /readyz answering 200
	cmd  *exec.Cmd
	logs *strings.Builder // its output, to be read only once done has answered
	done chan error       // the process's exit, once its output is copied
	once sync.Once
	err  error
}

// startServer starts bin serve on the store url, on a free loopback port,
// without a rate limit, and waits until its /readyz answers 200 (the index
// is loaded).
func startServer(ctx context.Context, bin, url string) (*server, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &server{base: "http://" + addr, logs: &strings.Builder{}, done: make(chan error, 1)}
	s.cmd = exec.Command(bin, "serve", "--listen", addr, "--store", url, "--rate-limit", "0", "--log-level", "warn")
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	t0 := time.Now()
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	client := &http.Client{Timeout: time.Second}
	for {
		if ready(ctx, client, s.base) {
			s.took = time.Since(t0)
			return s, nil
		}
		select {
		case err := <-s.done:
			return nil, fmt.Errorf("server exited before it was ready (%v): %s", err, s.logs)
		case <-ctx.Done():
			s.cmd.Process.Kill()
			<-s.done
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// ready reports whether the server at base answers /readyz with 200.
func ready(ctx context.Context, client *http.Client, base string) bool {
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/readyz", nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// heapBytes is the server's heap as its /metrics gives it
// (go_memstats_heap_alloc_bytes), which includes garbage the collector has
// not freed yet; 0 if it cannot be read.
func (s *server) heapBytes(ctx context.Context) int64 {
	c := loadgen.ScrapeServer(ctx, http.DefaultClient, s.base)
	return int64(c["go_memstats_heap_alloc_bytes"])
}

// stop stops the server as an operator does (SIGTERM), which saves the
// index snapshot, and reports an exit other than a clean one. It may be
// called more than once.
func (s *server) stop() error {
	s.once.Do(func() {
		if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			s.err = err
			return
		}
		select {
		case err := <-s.done:
			if err != nil {
				s.err = fmt.Errorf("server exited with %v: %s", err, s.logs)
			}
		case <-time.After(time.Minute):
			s.cmd.Process.Kill()
			<-s.done
			s.err = fmt.Errorf("server did not stop within a minute: %s", s.logs)
		}
	})
	return s.err
}

// restart times a second start of the server on the store, after the clean
// stop of the first: the restart an upgrade or a reboot costs, which reads
// the index snapshot the stop saved.
func (m *Main) restart(ctx context.Context, bin, url string, run *loadgen.ScaleRun) error {
	s, err := startServer(ctx, bin, url)
	if err != nil {
		return err
	}
	run.RestartSeconds = s.took.Seconds()
	fmt.Fprintf(m.Stderr, "restarted in %.2f s (from the index snapshot)\n", run.RestartSeconds)
	return s.stop()
}

// freePort returns a loopback address with a port free a moment ago.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
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
	// gcReady is how many garbage collections the server had made when
	// it answered ready, -1 if its /metrics could not be read.
	gcReady float64
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
	if err := p.start(ctx, exe, args, logFile); err != nil {
		return nil, err
	}
	p.gcReady = p.gcCount(ctx)
	return p, nil
}

// start runs exe with args as p, its output in logFile, and waits until
// p.base/readyz answers 200.
func (p *serverProcess) start(ctx context.Context, exe string, args []string, logFile string) error {
	logs, err := os.Create(logFile)
	if err != nil {
		return err
	}
	p.cmd = exec.Command(exe, args...)
	p.cmd.Stdout, p.cmd.Stderr = logs, logs
	t0 := time.Now()
	if err := p.cmd.Start(); err != nil {
		logs.Close()
		return err
	}
	go func() { p.done <- p.cmd.Wait(); logs.Close() }()
	for {
		resp, err := http.Get(p.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				p.took = time.Since(t0)
				return nil
			}
		}
		select {
		case err := <-p.done:
			return fmt.Errorf("%s exited (%v); its log: %s", filepath.Base(exe), err, logFile)
		case <-ctx.Done():
			p.stop()
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// gcCount is how many garbage collections the server has made, -1 if
// its /metrics cannot be read.
func (p *serverProcess) gcCount(ctx context.Context) float64 {
	c := loadgen.ScrapeServer(ctx, http.DefaultClient, p.base)
	if v, ok := c["go_gc_duration_seconds_count"]; ok {
		return v
	}
	return -1
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
