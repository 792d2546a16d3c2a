package loadgen

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/geo"
	"github.com/google/uuid"
)

// Config says what scenario to generate. The zero values of optional
// fields take the defaults below.
type Config struct {
	// Seed makes the scenario: the same Config gives the same scenario.
	Seed uint64
	// Operations is the number of operations to declare.
	Operations int
	// Queries is the number of further operations, generated the same way
	// but never declared, used as what-if checks against the declared ones.
	Queries int
	// Parties are the parties that declare, in turn (default alpha, bravo,
	// charlie). Queries are checked as a party of their own ("query").
	Parties []string
	// ConflictRate is the fraction of operations (and of queries) placed
	// to conflict with an earlier operation of another party, in [0, 1].
	ConflictRate float64
	// Start is when the week of operations begins (default: the next
	// midnight UTC after the time Generate is called — so that, for the
	// same seed, a scenario changes only from one day to the next).
	Start time.Time
	// Minima are the separation minima the conflict rate is computed with
	// (default: the mechanism's default settings).
	Minima geo.Minima
	// Progress, if set, receives the progress of generation (see
	// StartProgress); it does not change the scenario.
	Progress io.Writer
}

// Defaults of Config.
var (
	DefaultParties = []string{"alpha", "bravo", "charlie"}
	QueryParty     = "query"
)

// Operation is one generated operation: its ID, its party and its volumes
// in the wire form.
type Operation struct {
	ID      string        `json:"id"`
	Party   string        `json:"party"`
	Volumes []dc.Volume4D `json:"volumes"`
	// Planted is true when the operation was placed to conflict with an
	// earlier one of another party; Conflicts is true when it conflicts
	// with an earlier one (planted or by chance).
	Planted   bool `json:"planted"`
	Conflicts bool `json:"conflicts"`
}

// Parsed returns the operation's volumes as geometry.
func (o *Operation) Parsed() ([]geo.Volume, error) { return geo.ParseVolumes(o.Volumes, "volumes") }

// Scenario is a generated scenario.
type Scenario struct {
	Config     Config
	Operations []Operation
	Queries    []Operation
	// Index holds the operations (not the queries), as the generator
	// built it to place them; Parsed holds their geometry, by position.
	Index  *geo.Index
	Parsed [][]geo.Volume
}

// ConflictRate returns the fraction of operations that conflict with an
// earlier operation of another party.
func (s *Scenario) ConflictRate() float64 { return rate(s.Operations) }

// QueryConflictRate returns the fraction of queries that conflict with a
// declared operation.
func (s *Scenario) QueryConflictRate() float64 { return rate(s.Queries) }

func rate(ops []Operation) float64 {
	if len(ops) == 0 {
		return 0
	}
	n := 0
	for i := range ops {
		if ops[i].Conflicts {
			n++
		}
	}
	return float64(n) / float64(len(ops))
}

// The airspace. Operations fill a latitude/longitude box around the
// eastern Mediterranean and the Levant that holds 10,000 operations at the
// density of the index benchmarks in package geo; for more operations the
// box grows (in both directions, up to the whole globe) so that the
// density, and so the rate of chance conflicts, stays the same. One
// operation in twenty is anywhere on the globe, poles and antimeridian
// included.
const (
	centreLat, centreLng = 33.0, 36.0
	baseHalfLat          = 4.0
	baseHalfLng          = 7.0
	baseOperations       = 10_000
	// tries is how often a clean operation is placed again when it
	// conflicts by chance.
	tries = 50
)

// Generate makes the scenario cfg describes.
func Generate(cfg Config) (*Scenario, error) {
	if cfg.Operations < 0 || cfg.Queries < 0 {
		return nil, fmt.Errorf("loadgen: negative number of operations")
	}
	if !(cfg.ConflictRate >= 0 && cfg.ConflictRate <= 1) {
		return nil, fmt.Errorf("loadgen: conflict rate %v is not in [0, 1]", cfg.ConflictRate)
	}
	if len(cfg.Parties) == 0 {
		cfg.Parties = DefaultParties
	}
	if cfg.Start.IsZero() {
		cfg.Start = time.Now().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	}
	if cfg.Minima == (geo.Minima{}) {
		cfg.Minima = geo.MinimaOf(dc.DefaultSettings())
	}
	g := &generator{
		cfg: cfg,
		r:   rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5eed_1dea_0f_a11)),
		s:   &Scenario{Config: cfg, Index: geo.NewIndex()},
	}
	scale := math.Sqrt(max(float64(cfg.Operations), baseOperations) / baseOperations)
	g.halfLat, g.halfLng = min(baseHalfLat*scale, 85), min(baseHalfLng*scale, 180)
	g.s.Operations = make([]Operation, 0, cfg.Operations)
	g.s.Parsed = make([][]geo.Volume, 0, cfg.Operations)
	prog := StartProgress(cfg.Progress, "generate", cfg.Operations+cfg.Queries, 30*time.Second)
	defer prog.Done()
	for i := range cfg.Operations {
		op, vols, err := g.next(cfg.Parties[i%len(cfg.Parties)])
		if err != nil {
			return nil, err
		}
		g.s.Index.Insert(op.ID, op.Party, vols)
		g.s.Operations = append(g.s.Operations, op)
		g.s.Parsed = append(g.s.Parsed, vols)
		prog.Add(1, 0)
	}
	for range cfg.Queries {
		op, _, err := g.next(QueryParty)
		if err != nil {
			return nil, err
		}
		g.s.Queries = append(g.s.Queries, op)
		prog.Add(1, 0)
	}
	return g.s, nil
}

type generator struct {
	cfg              Config
	r                *rand.Rand
	s                *Scenario
	halfLat, halfLng float64
}

// next generates the next operation of party.
func (g *generator) next(party string) (Operation, []geo.Volume, error) {
	op := Operation{ID: g.uuid(), Party: party}
	op.Planted = g.r.Float64() < g.cfg.ConflictRate && g.hasOther(party)
	for try := 0; ; try++ {
		if try == 1000 {
			return op, nil, fmt.Errorf("loadgen: no valid operation after %d tries (seed %d)", try, g.cfg.Seed)
		}
		var wire []dc.Volume4D
		if op.Planted {
			wire = g.near(party)
		} else {
			wire = g.free()
		}
		vols, err := geo.ParseVolumes(wire, "volumes")
		if err != nil {
			continue // a rare ring made invalid by rounding: draw again
		}
		hits := g.s.Index.Conflicts(vols, g.cfg.Minima, party)
		if !op.Planted && len(hits) > 0 && try < tries {
			continue
		}
		if op.Planted && len(hits) == 0 {
			continue
		}
		op.Volumes, op.Conflicts = wire, len(hits) > 0
		return op, vols, nil
	}
}

// hasOther reports whether an operation of another party exists yet.
func (g *generator) hasOther(party string) bool {
	for i := range g.s.Operations {
		if g.s.Operations[i].Party != party {
			return true
		}
		if i > len(g.cfg.Parties) {
			break
		}
	}
	return false
}

func (g *generator) uuid() string {
	var u uuid.UUID
	hi, lo := g.r.Uint64(), g.r.Uint64()
	for i := range 8 {
		u[i], u[8+i] = byte(hi>>(8*i)), byte(lo>>(8*i))
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u.String()
}

// free returns the volumes of an operation placed anywhere in the
// airspace.
func (g *generator) free() []dc.Volume4D {
	var lat, lng float64
	if g.r.IntN(20) == 0 {
		lat, lng = 180*math.Asin(2*g.r.Float64()-1)/math.Pi, 360*g.r.Float64()-180
	} else {
		lat = centreLat + g.halfLat*(2*g.r.Float64()-1)
		lng = wrapLng(centreLng + g.halfLng*(2*g.r.Float64()-1))
	}
	start := g.cfg.Start.Add(time.Duration(g.r.Int64N(int64(7 * 24 * time.Hour)))).Truncate(time.Second)
	lower := math.Round(12000 * g.r.Float64())
	return g.volumes(fromDegrees(lat, lng), start, lower)
}

// near returns the volumes of an operation whose first volume conflicts
// with a volume of an earlier operation of another party: its centre
// within half the horizontal minimum of that volume's centre (which lies
// inside that footprint), its altitude band and window overlapping.
func (g *generator) near(party string) []dc.Volume4D {
	var other *Operation
	for other == nil || other.Party == party {
		other = &g.s.Operations[g.r.IntN(len(g.s.Operations))]
	}
	v := &other.Volumes[g.r.IntN(len(other.Volumes))]
	var c vec
	if ci := v.Volume.OutlineCircle; ci != nil {
		c = fromDegrees(*ci.Center.Lat, *ci.Center.Lng)
	} else {
		c = ringCentre(v.Volume.OutlinePolygon)
	}
	c = offset(c, 2*math.Pi*g.r.Float64(), g.r.Float64()*g.cfg.Minima.HorizontalM/2/geo.EarthRadiusM)
	lower0, upper0 := *v.Volume.AltitudeLower.Value, *v.Volume.AltitudeUpper.Value
	start0, _ := time.Parse(time.RFC3339, v.TimeStart.Value)
	end0, _ := time.Parse(time.RFC3339, v.TimeEnd.Value)
	lower := math.Round(lower0 - 200*g.r.Float64() + (upper0-lower0)*g.r.Float64())
	d := end0.Sub(start0)
	start := start0.Add(time.Duration(float64(d) * (1.5*g.r.Float64() - 0.5))).Truncate(time.Second)
	return g.volumes(c, start, max(lower, 0))
}

// volumes returns one to three volumes flown one after another, the first
// centred at c, starting at start, its band starting at lower.
func (g *generator) volumes(c vec, start time.Time, lower float64) []dc.Volume4D {
	n := 1
	if k := g.r.IntN(10); k >= 9 {
		n = 3
	} else if k >= 7 {
		n = 2
	}
	var out []dc.Volume4D
	for i := range n {
		size := math.Exp(math.Log(1000) + g.r.Float64()*math.Log(100)) // 1 to 100 km, log-uniform
		var v3 dc.Volume3D
		switch {
		case g.r.IntN(2) == 0:
			lat, lng := c.degrees()
			v3.OutlineCircle = &dc.Circle{
				Center: &dc.LatLng{Lat: dc.Float(lat), Lng: dc.Float(lng)},
				Radius: &dc.Measure{Value: dc.Float(math.Round(size / 2)), Units: "M"},
			}
		case g.r.IntN(25) == 0:
			v3.OutlinePolygon = g.star(c, size, 50+g.r.IntN(150), 0.5)
		default:
			v3.OutlinePolygon = g.star(c, size, 4+g.r.IntN(13), 0.25)
		}
		d := time.Duration(math.Exp(math.Log(float64(5*time.Minute)) + g.r.Float64()*math.Log(72))).Truncate(time.Second)
		if i > 0 {
			lower = math.Round(min(12000, max(0, lower+1000*(2*g.r.Float64()-1))))
		}
		upper := lower + math.Round(150+2000*g.r.Float64())
		out = append(out, wireVolume(v3, lower, upper, start, start.Add(d)))
		start = start.Add(d)
		c = offset(c, 2*math.Pi*g.r.Float64(), size/geo.EarthRadiusM)
	}
	return out
}

// star returns a polygon of n vertices at increasing bearings around c, at
// distances between minFrac and 1 times size/2, drawn in the gnomonic
// projection around c (where great circles are straight lines), so that
// the ring is simple on the sphere as in the plane.
func (g *generator) star(c vec, size float64, n int, minFrac float64) *dc.Polygon {
	jitter := 0.4 // keeps every gap between bearings under 180 degrees
	if n == 3 {
		jitter = 0.2
	}
	east, north := frame(c)
	p := &dc.Polygon{Vertices: make([]dc.LatLng, n)}
	for i := range n {
		a := (float64(i) + jitter*(2*g.r.Float64()-1)) * 2 * math.Pi / float64(n)
		t := math.Tan(size / 2 * (minFrac + (1-minFrac)*g.r.Float64()) / geo.EarthRadiusM)
		lat, lng := c.add(north.scale(t * math.Cos(a))).add(east.scale(t * math.Sin(a))).unit().degrees()
		p.Vertices[i] = dc.LatLng{Lat: dc.Float(lat), Lng: dc.Float(lng)}
	}
	return p
}

func wireVolume(v3 dc.Volume3D, lower, upper float64, start, end time.Time) dc.Volume4D {
	v3.AltitudeLower = &dc.Altitude{Value: dc.Float(lower), Reference: "W84", Units: "M"}
	v3.AltitudeUpper = &dc.Altitude{Value: dc.Float(upper), Reference: "W84", Units: "M"}
	return dc.Volume4D{
		Volume:    v3,
		TimeStart: &dc.Time{Value: start.UTC().Format(time.RFC3339), Format: "RFC3339"},
		TimeEnd:   &dc.Time{Value: end.UTC().Format(time.RFC3339), Format: "RFC3339"},
	}
}

// ringCentre returns the normalised sum of a ring's vertices: for the
// star-shaped rings generated here, a point inside.
func ringCentre(p *dc.Polygon) vec {
	var s vec
	for _, v := range p.Vertices {
		s = s.add(fromDegrees(*v.Lat, *v.Lng))
	}
	return s.unit()
}

func wrapLng(lng float64) float64 {
	for lng > 180 {
		lng -= 360
	}
	for lng < -180 {
		lng += 360
	}
	return lng
}

// vec is a point on the unit sphere.
type vec [3]float64

func fromDegrees(lat, lng float64) vec {
	φ, λ := lat*math.Pi/180, lng*math.Pi/180
	return vec{math.Cos(φ) * math.Cos(λ), math.Cos(φ) * math.Sin(λ), math.Sin(φ)}
}

func (v vec) degrees() (lat, lng float64) {
	lat = math.Atan2(v[2], math.Hypot(v[0], v[1])) * 180 / math.Pi
	lng = math.Atan2(v[1], v[0]) * 180 / math.Pi
	return max(-90, min(90, lat)), max(-180, min(180, lng))
}

func (v vec) add(w vec) vec       { return vec{v[0] + w[0], v[1] + w[1], v[2] + w[2]} }
func (v vec) scale(k float64) vec { return vec{v[0] * k, v[1] * k, v[2] * k} }
func (v vec) norm() float64       { return math.Sqrt(v[0]*v[0] + v[1]*v[1] + v[2]*v[2]) }
func (v vec) unit() vec           { return v.scale(1 / v.norm()) }
func (v vec) cross(w vec) vec {
	return vec{v[1]*w[2] - v[2]*w[1], v[2]*w[0] - v[0]*w[2], v[0]*w[1] - v[1]*w[0]}
}

// frame returns east and north unit vectors at c.
func frame(c vec) (east, north vec) {
	east = vec{0, 0, 1}.cross(c)
	if east.norm() < 1e-9 {
		east = vec{0, 1, 0}
	}
	east = east.unit()
	return east, c.cross(east)
}

// offset returns the point at angle d (radians) from c along bearing b
// (radians from north).
func offset(c vec, b, d float64) vec {
	e, n := frame(c)
	dir := n.scale(math.Cos(b)).add(e.scale(math.Sin(b)))
	return c.scale(math.Cos(d)).add(dir.scale(math.Sin(d))).unit()
}
