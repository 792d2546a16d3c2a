package geo

import (
	"flag"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/deconflict/deconflict"
)

// Seeded random scenarios: every randomised test logs its seed, and
// -seed=N replays it; -scale=N multiplies the number of cases.
var (
	seedFlag  = flag.Uint64("seed", 0, "seed of randomised tests (0: a new one)")
	scaleFlag = flag.Int("scale", 1, "multiplies the number of randomised cases")
)

func newRand(t testing.TB) *rand.Rand {
	t.Helper()
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -seed=%d)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// cases returns n, or fewer under -short, times -scale.
func cases(n int) int {
	if testing.Short() {
		n = max(n/5, 1)
	}
	return n * *scaleFlag
}

// shape is a footprint to generate: a circle, or a star-shaped polygon
// drawn in the gnomonic projection around its centre, where great circles
// are straight lines, so that the ring is simple on the sphere too.
type shape struct {
	circle  bool
	radiusM float64   // circle
	angles  []float64 // polygon: bearing of each vertex, increasing
	radii   []float64 // polygon: its distance from the centre, metres
}

// randShape returns a circle or polygon of about sizeM across; big
// polygons have more than treeMin vertices.
func randShape(r *rand.Rand, sizeM float64, kind int) shape {
	if kind == 0 {
		return shape{circle: true, radiusM: sizeM / 2 * (0.3 + 0.7*r.Float64())}
	}
	n := 3 + r.IntN(10)
	if kind == 2 {
		n = treeMin + 1 + r.IntN(40)
	}
	return starShape(r, sizeM, n, 0.25)
}

// starShape returns a polygon of n vertices at bearings spread around the
// centre, at distances between minFrac and 1 times sizeM/2.
func starShape(r *rand.Rand, sizeM float64, n int, minFrac float64) shape {
	s := shape{}
	jitter := 0.4 // keeps every gap between bearings under 180 degrees
	if n == 3 {
		jitter = 0.2
	}
	for i := range n {
		s.angles = append(s.angles, (float64(i)+jitter*(2*r.Float64()-1))*2*math.Pi/float64(n))
		s.radii = append(s.radii, sizeM/2*(minFrac+(1-minFrac)*r.Float64()))
	}
	return s
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

// offset returns the point at distance d (radians) from c along bearing
// b (radians from north).
func offset(c vec, b, d float64) vec {
	e, n := frame(c)
	dir := n.scale(math.Cos(b)).add(e.scale(math.Sin(b)))
	return c.scale(math.Cos(d)).add(dir.scale(math.Sin(d))).unit()
}

// vertices returns the polygon's vertices in degrees around centre c.
func (s shape) vertices(c vec) [][2]float64 {
	e, n := frame(c)
	out := make([][2]float64, len(s.angles))
	for i, a := range s.angles {
		t := math.Tan(s.radii[i] / EarthRadiusM)
		v := c.add(n.scale(t * math.Cos(a))).add(e.scale(t * math.Sin(a)))
		out[i][0], out[i][1] = toDegrees(v)
	}
	return out
}

// wire returns the wire outline of the shape centred at c.
func (s shape) wire(c vec) deconflict.Volume3D {
	if s.circle {
		lat, lng := toDegrees(c)
		return deconflict.Volume3D{OutlineCircle: &deconflict.Circle{
			Center: &deconflict.LatLng{Lat: deconflict.Float(lat), Lng: deconflict.Float(lng)},
			Radius: &deconflict.Measure{Value: deconflict.Float(s.radiusM), Units: "M"},
		}}
	}
	var p deconflict.Polygon
	for _, v := range s.vertices(c) {
		p.Vertices = append(p.Vertices, deconflict.LatLng{Lat: deconflict.Float(v[0]), Lng: deconflict.Float(v[1])})
	}
	return deconflict.Volume3D{OutlinePolygon: &p}
}

// oracle returns the shape centred at c as the oracle sees it, built from
// the same degrees as the wire form.
func (s shape) oracle(c vec) oShape {
	if s.circle {
		lat, lng := toDegrees(c)
		return oCircle(lat, lng, s.radiusM)
	}
	return oPolygon(s.vertices(c))
}

// wireVolume returns a wire volume.
func wireVolume(v3 deconflict.Volume3D, lower, upper float64, start, end time.Time) deconflict.Volume4D {
	v3.AltitudeLower = &deconflict.Altitude{Value: deconflict.Float(lower), Reference: "W84", Units: "M"}
	v3.AltitudeUpper = &deconflict.Altitude{Value: deconflict.Float(upper), Reference: "W84", Units: "M"}
	return deconflict.Volume4D{
		Volume:    v3,
		TimeStart: &deconflict.Time{Value: start.Format(time.RFC3339Nano), Format: "RFC3339"},
		TimeEnd:   &deconflict.Time{Value: end.Format(time.RFC3339Nano), Format: "RFC3339"},
	}
}

// mustParse parses wire volumes that must be valid.
func mustParse(t testing.TB, ws ...deconflict.Volume4D) []Volume {
	t.Helper()
	vs, err := ParseVolumes(ws, "volumes")
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return vs
}

// randCenter returns a centre in one of the places that matter: the
// Levant, across the antimeridian, at or near a pole, or anywhere.
func randCenter(r *rand.Rand) vec {
	switch r.IntN(6) {
	case 0:
		return fromDegrees(89.6+0.4*r.Float64(), 360*r.Float64()-180)
	case 1:
		return fromDegrees(-90, 0)
	case 2:
		return fromDegrees(60*r.Float64()-30, 179.8+0.4*r.Float64())
	case 3:
		return fromDegrees(180*math.Asin(2*r.Float64()-1)/math.Pi, 360*r.Float64()-180)
	}
	return fromDegrees(29+8*r.Float64(), 29+14*r.Float64())
}

// place returns the centre, along bearing b from ca, at which the shape
// sb is at distance target (metres) from the shape sa centred at ca,
// by bisection on the oracle's distance.
func place(sa shape, ca vec, sb shape, b, target float64) (vec, float64) {
	oa := sa.oracle(ca)
	dist := func(s float64) float64 { return oDistance(oa, sb.oracle(offset(ca, b, s))) * EarthRadiusM }
	lo, hi := 0.0, (extent(sa)+extent(sb)+target+1000)/EarthRadiusM
	for range 42 {
		mid := (lo + hi) / 2
		if dist(mid) < target {
			lo = mid
		} else {
			hi = mid
		}
	}
	c := offset(ca, b, hi)
	return c, dist(hi)
}

// extent returns the largest distance from the centre of a shape to any
// of its points.
func extent(s shape) float64 {
	if s.circle {
		return s.radiusM
	}
	m := 0.0
	for _, r := range s.radii {
		m = max(m, r)
	}
	return m * 1.01
}
