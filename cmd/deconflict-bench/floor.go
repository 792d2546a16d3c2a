package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strings"

	"github.com/deconflict/deconflict/loadgen"
)

// The floor of a check over HTTP on this machine: what a load costs when
// the server does nothing but what net/http and the kernel do for every
// request. `floor-serve` is a server of a fixed answer; --floor measures
// it with the same client, clients and requests as the checks, right
// after each load of the checks, so that both are of the same spell. The
// difference between the two is what deconflict's own work per check
// costs; the floor is what no change to it can take away.

// floorServe serves, on --listen, a fixed answer of --answer-bytes to any
// request, after reading its body, and 200 to GET /readyz; and, with
// --pprof, its runtime profiles on that address.
func (m *Main) floorServe(ctx context.Context, args []string) error {
	fs := m.newFlags("floor-serve", "Usage: deconflict-bench floor-serve --listen ADDR [--answer-bytes N] [--pprof ADDR]\n\nFlags:\n", args)
	listen := fs.String("listen", "127.0.0.1:8090", "address to serve on")
	size := fs.Int("answer-bytes", 1000, "size of the answer's body")
	prof := fs.String("pprof", "", "address to serve the runtime profiles on (none if empty)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if *size < len(`{"conflicts":[],"pad":""}`) || *size > 1<<20 {
		return fmt.Errorf("--answer-bytes: %d is not between 25 and 1 MiB", *size)
	}
	answer := []byte(`{"conflicts":[],"pad":"` + strings.Repeat("x", *size-25) + `"}`)
	if *prof != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		ln, err := net.Listen("tcp", *prof)
		if err != nil {
			return fmt.Errorf("--pprof: %w", err)
		}
		go http.Serve(ln, mux)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(answer)
	})}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// startFloor starts this program's floor-serve with an answer of size
// bytes, its log in dir, and waits until it answers.
func startFloor(ctx context.Context, dir string, size int, profiles bool) (*serverProcess, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	args := []string{"floor-serve", "--listen", addr, "--answer-bytes", fmt.Sprint(size)}
	p := &serverProcess{base: "http://" + addr, done: make(chan error, 1), gcReady: -1}
	if profiles {
		if p.pprof, err = freePort(); err != nil {
			return nil, err
		}
		args = append(args, "--pprof", p.pprof)
	}
	if err := p.start(ctx, exe, args, filepath.Join(dir, "floor.log")); err != nil {
		return nil, err
	}
	return p, nil
}

// measureFloor runs, on the floor server fl, the load that newLoad makes
// with c clients, as measure does on a server, and prints it.
func (m *Main) measureFloor(ctx context.Context, f benchFlags, fl *serverProcess, c int, profile string, newLoad func(base string) (loadgen.Request, error)) (loadgen.Load, error) {
	ld, err := m.measure(ctx, f, fl, "floor: net/http, a fixed answer", c, profile, func() (loadgen.Request, error) { return newLoad(fl.base) })
	if err != nil {
		return ld, err
	}
	m.printLoad(ld)
	return ld, nil
}
