// Package postgis answers the same conflict checks as package geo with
// PostgreSQL + PostGIS, the way a team would build deconfliction without
// deconflict: a table of volumes with a geography footprint under a GiST
// index, and one SQL query per check with ST_DWithin on the sphere plus
// the altitude and time predicates. It exists to compare the two, for
// speed and for agreement.
//
// Footprints follow contract section 3 exactly. A polygon is a geography
// polygon (PostGIS joins its vertices by great-circle arcs, as the
// contract does). A circle is a spherical cap: it is kept as its centre
// point with its radius r beside it, and "the smallest surface distance
// between a cap of radius r and a shape is less than d" is "the distance
// from the cap's centre to the shape is less than d + r", which is
// ST_DWithin(centre, shape, d + r, false). Densifying the circle
// (ST_Buffer) would move its edge by up to a few hundred metres and give
// different answers. The index condition uses the largest radius in the
// table, so that the GiST index can still narrow the search.
//
// PostGIS measures on a sphere of radius 6,371,008.77 m (the mean radius
// of WGS84), the contract on one of 6,371,008.8 m: distances differ by
// 5 parts in a billion, far below the contract's 1 m tolerance.
// ST_DWithin includes its bound (<= d) where the contract does not (< d):
// the same tolerance covers it.
package postgis

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/geo"
	"github.com/deconflict/deconflict/loadgen"
	"github.com/jackc/pgx/v5"
)

// DB is a PostGIS database holding one scenario's volumes in a schema of
// its own.
type DB struct {
	conn   *pgx.Conn
	schema string
	maxR   float64
	// Buffer, when set before Load, makes circles polygons with
	// ST_Buffer(geography, r) — 32 vertices, computed in a planar
	// projection — as a team might, instead of exact caps. It is there to
	// show what that costs in agreement.
	Buffer bool
}

// Open connects to url, makes sure PostGIS is installed in the database
// and that schema exists, and works in that schema from then on.
func Open(ctx context.Context, url, schema string) (*DB, error) {
	if !validName(schema) {
		return nil, fmt.Errorf("postgis: schema name %q is not a plain lower-case name", schema)
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgis: parse URL: %w", err)
	}
	cfg.RuntimeParams["search_path"] = schema + ",public"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgis: connect: %w", err)
	}
	db := &DB{conn: conn, schema: schema}
	for _, q := range []string{
		"CREATE EXTENSION IF NOT EXISTS postgis",
		"CREATE SCHEMA IF NOT EXISTS " + schema,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			conn.Close(ctx)
			return nil, fmt.Errorf("postgis: %s: %w", q, err)
		}
	}
	return db, nil
}

// Version returns PostgreSQL's and PostGIS's versions.
func (db *DB) Version(ctx context.Context) (string, error) {
	var pg, gis string
	err := db.conn.QueryRow(ctx, "SELECT current_setting('server_version'), postgis_lib_version()").Scan(&pg, &gis)
	if err != nil {
		return "", fmt.Errorf("postgis: version: %w", err)
	}
	return "PostgreSQL " + pg + ", PostGIS " + gis, nil
}

// DropSchema removes the schema and everything in it.
func (db *DB) DropSchema(ctx context.Context) error {
	_, err := db.conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+db.schema+" CASCADE")
	return err
}

// ping runs the smallest query there is.
func (db *DB) ping(ctx context.Context) error {
	var one int
	return db.conn.QueryRow(ctx, "SELECT 1").Scan(&one)
}

// Close closes the connection.
func (db *DB) Close(ctx context.Context) error { return db.conn.Close(ctx) }

func validName(s string) bool {
	if s == "" || len(s) > 40 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// LoadStats says how long loading took.
type LoadStats struct {
	Operations   int     `json:"operations"`
	Volumes      int     `json:"volumes"`
	CopySeconds  float64 `json:"copy_seconds"`
	IndexSeconds float64 `json:"index_seconds"`
	TableBytes   int64   `json:"table_bytes"`
	IndexBytes   int64   `json:"index_bytes"`
}

// Load replaces the table of volumes with the operations' volumes: COPY
// into a staging table of text, conversion to geography, then the GiST
// index and ANALYZE.
func (db *DB) Load(ctx context.Context, ops []loadgen.Operation) (LoadStats, error) {
	st := LoadStats{Operations: len(ops)}
	ddl := []string{
		"DROP TABLE IF EXISTS vols, vols_in",
		`CREATE UNLOGGED TABLE vols_in (op_id uuid, party text, wkt text, r float8,
			lower_m float8, upper_m float8, t_start timestamptz, t_end timestamptz)`,
	}
	for _, q := range ddl {
		if _, err := db.conn.Exec(ctx, q); err != nil {
			return st, fmt.Errorf("postgis: %s: %w", q, err)
		}
	}
	var rows [][]any
	for _, op := range ops {
		for _, v := range op.Volumes {
			r, err := row(op.ID, op.Party, &v)
			if err != nil {
				return st, fmt.Errorf("postgis: operation %s: %w", op.ID, err)
			}
			rows = append(rows, r)
		}
	}
	st.Volumes = len(rows)
	t0 := time.Now()
	cols := []string{"op_id", "party", "wkt", "r", "lower_m", "upper_m", "t_start", "t_end"}
	if _, err := db.conn.CopyFrom(ctx, pgx.Identifier{"vols_in"}, cols, pgx.CopyFromRows(rows)); err != nil {
		return st, fmt.Errorf("postgis: copy: %w", err)
	}
	for _, q := range []string{
		`CREATE TABLE vols (op_id uuid NOT NULL, party text NOT NULL, fp geography NOT NULL, r float8 NOT NULL,
			lower_m float8 NOT NULL, upper_m float8 NOT NULL, t_start timestamptz NOT NULL, t_end timestamptz NOT NULL)`,
		`INSERT INTO vols SELECT op_id, party,
			CASE WHEN $1::bool AND r > 0 THEN ST_Buffer(ST_GeogFromText(wkt), r) ELSE ST_GeogFromText(wkt) END,
			CASE WHEN $1::bool THEN 0 ELSE r END,
			lower_m, upper_m, t_start, t_end FROM vols_in`,
	} {
		var args []any
		if strings.Contains(q, "$1") {
			args = append(args, db.Buffer)
		}
		if _, err := db.conn.Exec(ctx, q, args...); err != nil {
			return st, fmt.Errorf("postgis: convert: %w", err)
		}
	}
	if _, err := db.conn.Exec(ctx, "DROP TABLE vols_in"); err != nil {
		return st, fmt.Errorf("postgis: drop staging: %w", err)
	}
	st.CopySeconds = time.Since(t0).Seconds()
	t0 = time.Now()
	for _, q := range []string{"CREATE INDEX vols_fp ON vols USING gist (fp)", "ANALYZE vols"} {
		if _, err := db.conn.Exec(ctx, q); err != nil {
			return st, fmt.Errorf("postgis: %s: %w", q, err)
		}
	}
	st.IndexSeconds = time.Since(t0).Seconds()
	err := db.conn.QueryRow(ctx, `SELECT coalesce(max(r), 0), pg_table_size('vols'), pg_relation_size('vols_fp') FROM vols`).
		Scan(&db.maxR, &st.TableBytes, &st.IndexBytes)
	if err != nil {
		return st, fmt.Errorf("postgis: table stats: %w", err)
	}
	return st, nil
}

// row returns a volume as a row of the staging table.
func row(id, party string, v *dc.Volume4D) ([]any, error) {
	wkt, r := footprint(v)
	lower, upper, start, end, err := bands(v)
	if err != nil {
		return nil, err
	}
	return []any{id, party, wkt, r, lower, upper, start, end}, nil
}

// footprint returns the WKT of a volume's footprint (longitude first,
// every number as Go's shortest exact form) and the circle's radius, or 0.
func footprint(v *dc.Volume4D) (string, float64) {
	f := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	if c := v.Volume.OutlineCircle; c != nil {
		return "POINT(" + f(*c.Center.Lng) + " " + f(*c.Center.Lat) + ")", *c.Radius.Value
	}
	var b strings.Builder
	b.WriteString("POLYGON((")
	vs := v.Volume.OutlinePolygon.Vertices
	n := len(vs)
	if *vs[0].Lat == *vs[n-1].Lat && *vs[0].Lng == *vs[n-1].Lng {
		n-- // the ring repeats its first vertex: WKT will close it
	}
	for i := 0; i <= n; i++ {
		p := vs[i%n]
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(f(*p.Lng) + " " + f(*p.Lat))
	}
	b.WriteString("))")
	return b.String(), 0
}

// bands returns a volume's altitudes in metres and its window.
func bands(v *dc.Volume4D) (lower, upper float64, start, end time.Time, err error) {
	m := func(a *dc.Altitude) float64 {
		if a.Units == "FT" {
			return *a.Value * geo.FootM
		}
		return *a.Value
	}
	lower, upper = m(v.Volume.AltitudeLower), m(v.Volume.AltitudeUpper)
	if start, err = time.Parse(time.RFC3339Nano, v.TimeStart.Value); err != nil {
		return
	}
	end, err = time.Parse(time.RFC3339Nano, v.TimeEnd.Value)
	return
}

// checkSQL finds the operations (not of party $7) with a volume that
// conflicts with any of the query's volumes, given as parallel arrays.
// The first ST_DWithin, with the largest radius in the table ($9), is
// the one the GiST index answers; the second is exact for this row. $12
// is DB.Buffer.
const checkSQL = `
SELECT DISTINCT v.op_id::text
FROM unnest($1::text[], $2::float8[], $3::float8[], $4::float8[], $5::timestamptz[], $6::timestamptz[])
       AS q(wkt, r, lower_m, upper_m, t_start, t_end)
CROSS JOIN LATERAL (SELECT
       CASE WHEN $12::bool AND q.r > 0 THEN ST_Buffer(ST_GeogFromText(q.wkt), q.r) ELSE ST_GeogFromText(q.wkt) END AS g,
       CASE WHEN $12::bool THEN 0 ELSE q.r END AS r) qg
JOIN vols v
  ON ST_DWithin(v.fp, qg.g, $8 + qg.r + $9, false)
 AND ST_DWithin(v.fp, qg.g, $8 + qg.r + v.r, false)
 AND v.party <> $7
 AND v.lower_m - q.upper_m < $10 AND q.lower_m - v.upper_m < $10
 AND v.t_start < q.t_end + $11 * interval '1 second'
 AND v.t_end > q.t_start - $11 * interval '1 second'
ORDER BY 1`

// Conflicts returns the IDs, sorted, of the operations not of party
// exclude that conflict with the volumes under m.
func (db *DB) Conflicts(ctx context.Context, vols []dc.Volume4D, exclude string, m geo.Minima) ([]string, error) {
	n := len(vols)
	wkts, rs, lowers, uppers := make([]string, n), make([]float64, n), make([]float64, n), make([]float64, n)
	starts, ends := make([]time.Time, n), make([]time.Time, n)
	for i := range vols {
		wkts[i], rs[i] = footprint(&vols[i])
		var err error
		lowers[i], uppers[i], starts[i], ends[i], err = bands(&vols[i])
		if err != nil {
			return nil, err
		}
	}
	rows, err := db.conn.Query(ctx, checkSQL, wkts, rs, lowers, uppers, starts, ends, exclude,
		m.HorizontalM, db.maxR, m.VerticalM, m.TimeS, db.Buffer)
	if err != nil {
		return nil, fmt.Errorf("postgis: check: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgis: check: %w", err)
	}
	return ids, nil
}

// Explain returns the query plan of the check of vols, as run.
func (db *DB) Explain(ctx context.Context, vols []dc.Volume4D, exclude string, m geo.Minima) (string, error) {
	n := len(vols)
	wkts, rs, lowers, uppers := make([]string, n), make([]float64, n), make([]float64, n), make([]float64, n)
	starts, ends := make([]time.Time, n), make([]time.Time, n)
	for i := range vols {
		wkts[i], rs[i] = footprint(&vols[i])
		lowers[i], uppers[i], starts[i], ends[i], _ = bands(&vols[i])
	}
	rows, err := db.conn.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+checkSQL, wkts, rs, lowers, uppers, starts, ends, exclude,
		m.HorizontalM, db.maxR, m.VerticalM, m.TimeS, db.Buffer)
	if err != nil {
		return "", err
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return strings.Join(lines, "\n"), err
}

// HorizontalM returns PostGIS's smallest surface distance between two
// footprints, in metres: ST_Distance on the sphere less the radii of
// circles (or between buffered circles, with Buffer), 0 when they
// intersect.
func (db *DB) HorizontalM(ctx context.Context, a, b *dc.Volume4D) (float64, error) {
	wa, ra := footprint(a)
	wb, rb := footprint(b)
	var d float64
	err := db.conn.QueryRow(ctx, `SELECT ST_Distance(
		CASE WHEN $5::bool AND $3::float8 > 0 THEN ST_Buffer(ST_GeogFromText($1), $3::float8) ELSE ST_GeogFromText($1) END,
		CASE WHEN $5::bool AND $4::float8 > 0 THEN ST_Buffer(ST_GeogFromText($2), $4::float8) ELSE ST_GeogFromText($2) END, false)`,
		wa, wb, ra, rb, db.Buffer).Scan(&d)
	if db.Buffer {
		ra, rb = 0, 0
	}
	if err != nil {
		return 0, fmt.Errorf("postgis: distance: %w", err)
	}
	return math.Max(0, d-ra-rb), nil
}
