package postgis

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/deconflict/deconflict/geo"
	"github.com/deconflict/deconflict/loadgen"
)

// warmUp is the number of queries asked of both before timing.
const warmUp = 20

// Comparison is the outcome of asking both engines the same checks.
type Comparison struct {
	Version string    `json:"version"`
	Load    LoadStats `json:"load"`
	Checks  int       `json:"checks"`
	// Geo is the in-process index asked every query one after another;
	// PostGIS the query over a loopback connection, measured from sending
	// it to having every row. For PostGIS, each query was asked right after
	// geo was asked the same; GeoInterleaved is geo's latency in that loop
	// (its memory colder in the CPU caches after each PostGIS query).
	Geo loadgen.Latency `json:"geo"`
	// RoundTrip is the latency of "SELECT 1" on the same connection: the
	// part of PostGIS's latency that is the trip, not the query.
	RoundTrip      loadgen.Latency `json:"round_trip"`
	GeoInterleaved loadgen.Latency `json:"geo_interleaved"`
	PostGIS        loadgen.Latency `json:"postgis"`
	// Ratios of PostGIS's latency to geo's (how many times faster geo is),
	// against Geo; the Interleaved ones against GeoInterleaved.
	RatioMean float64 `json:"ratio_mean"`
	RatioP50  float64 `json:"ratio_p50"`
	RatioP99  float64 `json:"ratio_p99"`
	// RatioInterleavedMean and RatioInterleavedP50 compare with
	// GeoInterleaved.
	RatioInterleavedMean float64 `json:"ratio_interleaved_mean"`
	RatioInterleavedP50  float64 `json:"ratio_interleaved_p50"`
	// Hits is the number of (query, operation) conflicts geo found.
	Hits int `json:"hits"`
	// Disagreements lists every (query, operation) pair on which the two
	// differ; AtThreshold of them are within the contract's 1 m tolerance.
	Disagreements []Disagreement `json:"disagreements"`
	AtThreshold   int            `json:"at_threshold"`
}

// Disagreement is one pair that only one engine says conflicts, with the
// horizontal distance each one measures for the closest pair of volumes
// that are close enough in time and altitude (-1 if there is none).
type Disagreement struct {
	Query     string  `json:"query"`
	Operation string  `json:"operation"`
	GeoSays   bool    `json:"geo_says_conflict"`
	GeoM      float64 `json:"geo_horizontal_m"`
	PostGISM  float64 `json:"postgis_horizontal_m"`
	// AtThreshold is true when either distance is within 1 m of the
	// horizontal minimum, where the contract accepts either answer.
	AtThreshold bool `json:"at_threshold"`
}

// Compare loads the scenario's operations into db and into a geo.Index,
// asks both every query of the scenario (as party loadgen.QueryParty, so
// no operation is excluded), times each, and lists the disagreements.
// ix may be an index already loaded with the operations (nil: one is
// built). Progress, if not nil, receives progress lines.
func Compare(ctx context.Context, db *DB, s *loadgen.Scenario, ix *geo.Index, m geo.Minima, progress io.Writer) (*Comparison, error) {
	c := &Comparison{Checks: len(s.Queries)}
	var err error
	if c.Version, err = db.Version(ctx); err != nil {
		return nil, err
	}
	if c.Load, err = db.Load(ctx, s.Operations); err != nil {
		return nil, err
	}
	if ix == nil {
		if ix, _, err = loadgen.LoadIndex(s); err != nil {
			return nil, err
		}
	}
	queries := make([][]geo.Volume, len(s.Queries))
	for i := range s.Queries {
		if queries[i], err = s.Queries[i].Parsed(); err != nil {
			return nil, err
		}
	}
	byID := make(map[string]*loadgen.Operation, len(s.Operations))
	for i := range s.Operations {
		byID[s.Operations[i].ID] = &s.Operations[i]
	}
	// Warm both up (PostgreSQL plans and caches, the Go heap), then ask
	// each query of one and of the other in turn, so that both see the
	// same noise from the rest of the machine.
	for i := range min(len(s.Queries), warmUp) {
		ix.Conflicts(queries[i], m, loadgen.QueryParty)
		if _, err := db.Conflicts(ctx, s.Queries[i].Volumes, loadgen.QueryParty, m); err != nil {
			return nil, err
		}
	}
	// geo alone first, warm, as a server asks it one check after another.
	var alone loadgen.Histogram
	for i := range queries {
		t0 := time.Now()
		ix.Conflicts(queries[i], m, loadgen.QueryParty)
		alone.Record(time.Since(t0))
	}
	var trip loadgen.Histogram
	for range 500 {
		t0 := time.Now()
		if err := db.ping(ctx); err != nil {
			return nil, err
		}
		trip.Record(time.Since(t0))
	}
	c.RoundTrip = trip.Summary()
	var hg, h loadgen.Histogram
	prog := loadgen.StartProgress(progress, "postgis", len(s.Queries), 5*time.Second)
	for i := range s.Queries {
		q := &s.Queries[i]
		t0 := time.Now()
		hits := ix.Conflicts(queries[i], m, loadgen.QueryParty)
		hg.Record(time.Since(t0))
		t0 = time.Now()
		got, err := db.Conflicts(ctx, q.Volumes, loadgen.QueryParty, m)
		if err != nil {
			prog.Done()
			return nil, err
		}
		h.Record(time.Since(t0))
		prog.Add(1, 0)
		want := make([]string, len(hits))
		for j, hit := range hits {
			want[j] = hit.ID
		}
		c.Hits += len(want)
		for _, id := range symmetricDifference(want, got) {
			d, err := db.explain(ctx, q, byID[id], m)
			if err != nil {
				prog.Done()
				return nil, err
			}
			d.GeoSays = slices.Contains(want, id)
			if d.AtThreshold {
				c.AtThreshold++
			}
			c.Disagreements = append(c.Disagreements, d)
		}
	}
	prog.Done()
	c.Geo, c.GeoInterleaved, c.PostGIS = alone.Summary(), hg.Summary(), h.Summary()
	c.RatioMean = c.PostGIS.Mean / c.Geo.Mean
	c.RatioP50 = c.PostGIS.P50 / c.Geo.P50
	c.RatioP99 = c.PostGIS.P99 / c.Geo.P99
	c.RatioInterleavedMean = c.PostGIS.Mean / c.GeoInterleaved.Mean
	c.RatioInterleavedP50 = c.PostGIS.P50 / c.GeoInterleaved.P50
	return c, nil
}

// explain measures a disagreeing pair with both engines.
func (db *DB) explain(ctx context.Context, q, op *loadgen.Operation, m geo.Minima) (Disagreement, error) {
	d := Disagreement{Query: q.ID, GeoM: math.Inf(1), PostGISM: math.Inf(1)}
	if op == nil {
		return d, fmt.Errorf("postgis: an operation answered is not in the scenario")
	}
	d.Operation = op.ID
	qv, err := q.Parsed()
	if err != nil {
		return d, err
	}
	ov, err := op.Parsed()
	if err != nil {
		return d, err
	}
	for i := range qv {
		for j := range ov {
			g := geo.Gap(&qv[i], &ov[j])
			if !(g.VerticalM < m.VerticalM && g.TimeS < m.TimeS) {
				continue
			}
			p, err := db.HorizontalM(ctx, &q.Volumes[i], &op.Volumes[j])
			if err != nil {
				return d, err
			}
			d.GeoM, d.PostGISM = min(d.GeoM, g.HorizontalM), min(d.PostGISM, p)
		}
	}
	d.AtThreshold = math.Abs(d.GeoM-m.HorizontalM) <= 1 || math.Abs(d.PostGISM-m.HorizontalM) <= 1
	if math.IsInf(d.GeoM, 1) { // no pair of volumes close in time and altitude
		d.GeoM, d.PostGISM = -1, -1
	}
	return d, nil
}

// symmetricDifference returns the IDs in exactly one of two sorted lists.
func symmetricDifference(a, b []string) []string {
	var out []string
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || i < len(a) && a[i] < b[j]:
			out = append(out, a[i])
			i++
		case i == len(a) || b[j] < a[i]:
			out = append(out, b[j])
			j++
		default:
			i++
			j++
		}
	}
	return out
}
