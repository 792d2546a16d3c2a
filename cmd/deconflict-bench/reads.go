package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/loadgen"
	"github.com/deconflict/deconflict/mechanism"
)

// readsFlags are the flags of bench --mode reads.
type readsFlags struct {
	reads *string
}

func addReadsFlags(fs *flag.FlagSet) readsFlags {
	return readsFlags{
		reads: fs.String("reads", "operations,conflicts,events,federation", "reads: the reads to load, each on its own"),
	}
}

// readsAckTimeoutS is the ack_timeout_s of the reads mode's store: the
// most the settings allow (30 days).
var readsAckTimeoutS = 30 * 86400.0

// A read is one kind of GET request the reads mode loads.
type read struct {
	name   string   // as in --reads
	route  string   // as the server's metrics name it, for the output
	paths  []string // the requests, in turn
	marker string   // occurs once per item of an answer
}

// benchReads measures the reads people repeat most, each on its own
// under a closed-loop load of each of --check-clients clients, against a
// server on a store of n operations declared through the mechanism (with
// their conflicts, events and record; made once in --dir and kept):
//   - operations: GET /v1/operations?bbox=…&start=…&end=…, a box of 1 to
//     3 degrees where traffic is, an hour;
//   - conflicts: GET /v1/conflicts?status=open, a party's first page;
//   - events: GET /v1/events?after=SEQ, a page of up to 1,000 from a
//     random point of the log;
//   - federation: GET /v1/federation.
//
// Each load reports the server's CPU time per request (from /proc), and
// with --profile a CPU profile of the server under it.
func (m *Main) benchReads(ctx context.Context, f benchFlags, n int, res *loadgen.Result) error {
	parties := strings.Split(*f.parties, ",")
	b, err := m.newBed(ctx, f, "reads", n, res, func(storeURL string) error {
		if _, err := benchTokens(ctx, storeURL, parties); err != nil {
			return err
		}
		// Nobody acknowledges these declarations: with the default
		// ack_timeout_s the server would spend the loads raising
		// escalations for every one of them.
		return withMechanism(ctx, storeURL, func(mech *mechanism.Mechanism) error {
			_, err := mech.Settings().Patch(ctx, dc.Actor{Role: dc.RoleAdmin}, dc.SettingsPatch{AckTimeoutS: &readsAckTimeoutS})
			return err
		})
	}, m.preloadMechanism, "declared into")
	if err != nil {
		return err
	}
	defer b.close()
	s, storeURL := b.s, b.url
	tokens, err := benchTokens(ctx, storeURL, parties)
	if err != nil {
		return err
	}
	token := tokens[parties[0]]

	var reads []read
	for _, name := range strings.Split(*f.reads.reads, ",") {
		r, err := readOf(strings.TrimSpace(name), s, *f.queries, *f.seed, n)
		if err != nil {
			return err
		}
		reads = append(reads, r)
	}

	srv, err := b.startServer(ctx, m, f, res)
	if err != nil {
		return err
	}
	defer srv.stop()

	for _, rd := range reads {
		for _, c := range b.counts {
			ld, err := m.measure(ctx, f, srv, rd.route, c, fmt.Sprintf("reads-%s-%d-c%d.pprof", rd.name, n, c), func() (loadgen.Request, error) {
				return loadgen.RawHTTPGets(srv.base, token, c, rd.paths, rd.marker)
			})
			if err != nil {
				return err
			}
			m.printRead(ld)
			res.Loads = append(res.Loads, ld)
			if ld.Errors > 0 {
				return fmt.Errorf("%d of %d requests failed; the first: %s", ld.Errors, ld.Requests, ld.FirstError)
			}
		}
	}
	return ctx.Err()
}

// readOf returns the requests of the read called name, made from the
// scenario s with the seed: queries of them.
func readOf(name string, s *loadgen.Scenario, queries int, seed uint64, n int) (read, error) {
	r := rand.New(rand.NewPCG(seed, seed^0x4ead5))
	out := read{name: name}
	switch name {
	case "operations":
		out.route, out.marker = "GET /v1/operations?bbox&start&end", `"party":`
		for range queries {
			v := &s.Operations[r.IntN(len(s.Operations))].Volumes[0]
			var lat, lng float64
			if ci := v.Volume.OutlineCircle; ci != nil {
				lat, lng = *ci.Center.Lat, *ci.Center.Lng
			} else {
				lat, lng = *v.Volume.OutlinePolygon.Vertices[0].Lat, *v.Volume.OutlinePolygon.Vertices[0].Lng
			}
			half := (1 + 2*r.Float64()) / 2
			t0, _ := time.Parse(time.RFC3339, v.TimeStart.Value)
			t0 = t0.Add(-30 * time.Minute)
			q := url.Values{
				"bbox":  {fmt.Sprintf("%.4f,%.4f,%.4f,%.4f", math.Max(lng-half, -180), math.Max(lat-half, -90), math.Min(lng+half, 180), math.Min(lat+half, 90))},
				"start": {t0.UTC().Format(time.RFC3339)},
				"end":   {t0.Add(time.Hour).UTC().Format(time.RFC3339)},
			}
			out.paths = append(out.paths, "/v1/operations?"+q.Encode())
		}
	case "conflicts":
		out.route, out.marker = "GET /v1/conflicts?status=open", `"separation":`
		out.paths = []string{"/v1/conflicts?status=open"}
	case "events":
		out.route, out.marker = "GET /v1/events?after", `"seq":`
		for range queries {
			out.paths = append(out.paths, "/v1/events?after="+strconv.Itoa(r.IntN(n)))
		}
	case "federation":
		out.route, out.marker = "GET /v1/federation", `"url":`
		out.paths = []string{"/v1/federation"}
	default:
		return out, fmt.Errorf("--reads: unknown read %q (want operations, conflicts, events or federation)", name)
	}
	return out, nil
}

func (m *Main) printRead(ld loadgen.Load) {
	l := ld.Latency
	fmt.Fprintf(m.Stderr, "%s, %d clients: %d in %.1f s, %.0f/s, %d errors; latency p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, max %.2f ms; %.1f items, %.0f bytes per answer; server CPU %.0f µs per request\n",
		ld.Name, ld.Clients, ld.Requests, ld.Seconds, ld.PerSecond, ld.Errors, l.P50, l.P90, l.P99, l.Max, ld.ConflictsPerCheck, ld.BytesPerAnswer, ld.ServerCPUPerRequestUS)
}
