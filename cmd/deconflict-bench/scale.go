package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/storeurl"
	"github.com/deconflict/deconflict/loadgen"
	"github.com/deconflict/deconflict/mechanism"
)

// benchScale runs the scale mode: a server started on a store of each size.
func (m *Main) benchScale(ctx context.Context, f benchFlags, sizes []int, res *loadgen.Result) error {
	bin, err := serverBinary(*f.deconflict)
	if err != nil {
		return err
	}
	dir, done, err := workDir(f)
	if err != nil {
		return err
	}
	defer done()
	for _, n := range sizes {
		run, err := m.scaleOne(ctx, f, bin, n, filepath.Join(dir, fmt.Sprintf("scale-%d.db", n)), res)
		if err != nil {
			return err
		}
		res.Scale = append(res.Scale, run)
	}
	return nil
}

// scaleOne measures the server binary bin with n live operations in a
// fresh SQLite store at path.
func (m *Main) scaleOne(ctx context.Context, f benchFlags, bin string, n int, path string, res *loadgen.Result) (loadgen.ScaleRun, error) {
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

	// Start the server binary on the store, as an operator would.
	srv, err := startServer(ctx, bin, url)
	if err != nil {
		return run, err
	}
	defer srv.stop()
	run.StartSeconds, run.HeapBytes = srv.took.Seconds(), srv.heapBytes(ctx)
	fmt.Fprintf(m.Stderr, "%d operations preloaded in %.1f s; server started in %.2f s, heap %d MB\n",
		n, run.PreloadSeconds, run.StartSeconds, run.HeapBytes>>20)
	if *f.preload == "direct" { // the store has no record to add to
		if err := srv.stop(); err != nil {
			return run, err
		}
		return run, m.restart(ctx, bin, url, &run)
	}
	// The scenario's queries, of the parties in turn, are the further
	// declarations.
	extra := s.Queries
	for i := range extra {
		extra[i].Party = parties[i%len(parties)]
	}
	r := &loadgen.Runner{Server: srv.base, Tokens: tokens, Clients: *f.clients, Progress: m.Stderr, ProgressEvery: *f.every}
	res.Clients = clientsOf(r)
	run.Declare, err = r.Declare(ctx, extra)
	if err != nil {
		return run, err
	}
	m.printPhase(run.Declare)
	if err := srv.stop(); err != nil {
		return run, err
	}
	if run.Declare.Errors > 0 {
		return run, fmt.Errorf("%d declarations failed; the first: %s", run.Declare.Errors, run.Declare.FirstError)
	}
	return run, m.restart(ctx, bin, url, &run)
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
	st, err := storeurl.Open(ctx, url)
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
					if v.Start.Before(op.Start) {
						op.Start = v.Start
					}
					if v.End.After(op.End) {
						op.End = v.End
					}
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
