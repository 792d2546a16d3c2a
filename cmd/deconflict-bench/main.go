// Command deconflict-bench is the load tool of deconflict: it generates a
// seeded, realistic airspace scenario and measures a server, the conflict
// index or PostgreSQL + PostGIS with it, and draws the scaling curves.
//
// It is a command of its own, not a part of the server's binary, so that
// the server links neither PostGIS nor the plotting code.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/deconflict/deconflict/loadgen"
	"github.com/deconflict/deconflict/loadgen/plot"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := &Main{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	os.Exit(m.Run(ctx, os.Args[1:]))
}

// Main is the program, with its outputs and environment injected so that
// tests run it in process.
type Main struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

const usage = `Usage:
  deconflict-bench [--server URL] (--store URL | --tokens FILE) [flags]
  deconflict-bench --mode index --ops 10000,100000,1000000 [flags]
  deconflict-bench --mode postgis --postgis URL --ops 100000 [flags]
  deconflict-bench --mode scale --ops 10000,100000 --dir DIR [--deconflict PATH] [flags]
  deconflict-bench --mode check --ops 100000 --dir DIR [--postgis URL] [--deconflict PATH] [flags]
  deconflict-bench --mode reads --ops 100000 --dir DIR [--reads LIST] [--deconflict PATH] [flags]
  deconflict-bench plot [--dir DIR] RESULT.json...
  deconflict-bench floor-serve --listen ADDR [--answer-bytes N]

Generates a seeded, realistic scenario (operations of several parties:
circles and polygons 1-100 km across, altitude bands, windows of 5 minutes
to 6 hours within a week, --conflict-rate of them placed to conflict with
an earlier operation of another party) and measures it. The same --seed,
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
           the mechanism into a fresh store in --dir, start the server
           binary --deconflict on it (timing the start), declare --queries
           more over HTTP, stop it and time a restart.
  check    POST /v1/check under a closed-loop load: write the operations
           straight into a store in --dir (kept for the next run), start
           the server binary --deconflict on it, and send circle checks
           (1-30 km, one hour, a 1 km band; --near of them where traffic
           is) for --duration with each of --check-clients clients. With
           --postgis, every check is first asked of the server (twice) and
           of PostGIS, which must agree, and each load is followed by the
           same checks against PostGIS with as many connections. With
           --floor, each load is also run against floor-serve (net/http
           answering a fixed answer of the same mean size, in a process of
           its own): the floor of the machine, which deconflict's own work
           adds to.
  reads    the reads people repeat, each under the same closed-loop
           load as check: GET /v1/operations by box and hour, GET
           /v1/conflicts?status=open, event pages (GET /v1/events?after=)
           and GET /v1/federation (--reads picks), against the server
           binary on a store of the operations declared through the
           mechanism (with conflicts, events and record), made once in
           --dir and kept. Each load reports the server's CPU time per
           request; --profile saves a CPU profile of the server under it.

The result goes to --out as JSON; progress to stderr (a bar on a
terminal, a line every --progress-every otherwise). 'plot' draws the
scaling curves of index and scale results as SVG files in --dir;
'floor-serve' is the server --floor measures.

Flags:
`

// benchFlags are the flags of a measurement.
type benchFlags struct {
	mode, server, store, tokens, out, postgis, schema, dir, parties, start *string
	seed                                                                   *uint64
	ops                                                                    *string
	queries, clients                                                       *int
	rate                                                                   *float64
	every                                                                  *time.Duration
	preload, deconflict                                                    *string
	check                                                                  checkFlags
	reads                                                                  readsFlags
}

// errUsage reports that the usage was printed for bad arguments.
var errUsage = errors.New("usage shown")

// Run runs the command args name and returns the exit status.
func (m *Main) Run(ctx context.Context, args []string) int {
	var err error
	switch {
	case len(args) > 0 && args[0] == "plot":
		err = m.plot(args[1:])
	case len(args) > 0 && args[0] == "floor-serve":
		err = m.floorServe(ctx, args[1:])
	default:
		err = m.bench(ctx, args)
	}
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case err == errUsage:
		return 2
	}
	fmt.Fprintf(m.Stderr, "deconflict-bench: %v\n", err)
	return 1
}

// newFlags returns a flag set whose usage is text followed by the flags,
// written to stdout for --help and to stderr for a mistake.
func (m *Main) newFlags(name, text string, args []string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			fs.SetOutput(m.Stdout)
		}
	}
	fs.Usage = func() { fmt.Fprint(fs.Output(), text); fs.PrintDefaults() }
	return fs
}

func (m *Main) bench(ctx context.Context, args []string) error {
	fs := m.newFlags("deconflict-bench", usage, args)
	server := m.Getenv("DECONFLICT_SERVER")
	if server == "" {
		server = "http://127.0.0.1:8080"
	}
	f := benchFlags{
		mode:       fs.String("mode", "http", "http, index, postgis, scale, check or reads"),
		server:     fs.String("server", server, "server URL (env DECONFLICT_SERVER)"),
		store:      fs.String("store", m.Getenv("DECONFLICT_STORE"), "the server's store, to create parties and issue tokens (env DECONFLICT_STORE)"),
		tokens:     fs.String("tokens", "", `file of "PARTY TOKEN" lines, operator tokens (instead of --store)`),
		out:        fs.String("out", "bench-result.json", "where to write the result (JSON)"),
		postgis:    fs.String("postgis", m.Getenv("DECONFLICT_POSTGIS"), "PostGIS database URL for --mode postgis (env DECONFLICT_POSTGIS)"),
		schema:     fs.String("schema", "deconflict_bench", "schema of the PostGIS tables (dropped and made again)"),
		dir:        fs.String("dir", "", "directory for the stores of --mode scale (default: a temporary one)"),
		parties:    fs.String("parties", strings.Join(loadgen.DefaultParties, ","), "the parties that declare, in turn"),
		start:      fs.String("start", "", "RFC 3339 time the week of operations starts (default: next midnight UTC)"),
		seed:       fs.Uint64("seed", 1, "seed of the scenario"),
		ops:        fs.String("ops", "1000", "operations to declare; a comma-separated list of sizes for index and scale"),
		queries:    fs.Int("queries", 1000, "what-if checks (http, index, postgis) or further declarations (scale)"),
		clients:    fs.Int("clients", 8, "concurrent HTTP clients"),
		rate:       fs.Float64("conflict-rate", 0.05, "fraction of operations placed to conflict with an earlier one of another party"),
		every:      fs.Duration("progress-every", 5*time.Second, "interval of progress lines when stderr is not a terminal"),
		preload:    fs.String("preload", "mechanism", "scale: how the live operations get into the store: mechanism (declared, with conflicts, events and record) or direct (written as rows, only to time the start; no declarations follow)"),
		deconflict: fs.String("deconflict", "", "scale, check: the server binary to start (default: deconflict beside this program, else on PATH)"),
	}
	f.check = addCheckFlags(fs)
	f.reads = addReadsFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	sizes, err := parseSizes(*f.ops)
	if err != nil {
		return err
	}
	res := &loadgen.Result{Tool: "deconflict-bench", Mode: *f.mode, StartedAt: time.Now().UTC(), Machine: loadgen.ThisMachine()}
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
	case "check":
		if len(sizes) != 1 {
			return errors.New("--mode check takes one size in --ops")
		}
		err = m.benchCheck(ctx, f, sizes[0], res)
	case "reads":
		if len(sizes) != 1 {
			return errors.New("--mode reads takes one size in --ops")
		}
		err = m.benchReads(ctx, f, sizes[0], res)
	default:
		return fmt.Errorf("unknown --mode %q (want http, index, postgis, scale, check or reads)", *f.mode)
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

// plot draws the scaling curves of result files as SVG.
func (m *Main) plot(args []string) error {
	fs := m.newFlags("plot", "Usage: deconflict-bench plot [--dir DIR] RESULT.json...\n\nFlags:\n", args)
	dir := fs.String("dir", "docs", "directory to write the SVG files to")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errUsage
	}
	written, err := plot.Results(fs.Args(), *dir)
	for _, w := range written {
		fmt.Fprintln(m.Stdout, w)
	}
	return err
}
