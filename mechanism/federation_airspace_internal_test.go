package mechanism

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/geo"
	"github.com/golang/geo/r1"
	"github.com/golang/geo/s1"
	"github.com/golang/geo/s2"
)

// airspaceAt is when the volumes of these tests fly; the airspace of a
// stale peer has no times, so any will do.
var airspaceAt = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// circleOp returns the volumes of an operation flying a circle of radius
// m metres around c.
func circleOp(t testing.TB, c s2.LatLng, m float64) []geo.Volume {
	t.Helper()
	f, err := geo.NewCircle(c, m)
	if err != nil {
		t.Fatal(err)
	}
	return []geo.Volume{{Footprint: f, UpperM: 100, Start: airspaceAt, End: airspaceAt.Add(time.Hour)}}
}

// destination is the point at angular distance d from p in direction
// bearing (radians from north), by the spherical law of cosines.
func destination(p s2.LatLng, bearing, d float64) s2.LatLng {
	lat1, lng1 := p.Lat.Radians(), p.Lng.Radians()
	lat2 := math.Asin(max(-1, min(1, math.Sin(lat1)*math.Cos(d)+math.Cos(lat1)*math.Sin(d)*math.Cos(bearing))))
	lng2 := lng1 + math.Atan2(math.Sin(bearing)*math.Sin(d)*math.Cos(lat1), math.Cos(d)-math.Sin(lat1)*math.Sin(lat2))
	return s2.LatLng{Lat: s1.Angle(lat2), Lng: s1.Angle(math.Remainder(lng2, 2*math.Pi))}.Normalized()
}

// TestPeerReachDefaultSettings: a peer whose log never changed its
// settings has the defaults, and the pairs with its parties are decided
// with the larger horizontal_m of the two nodes (agreement.go): an
// operation 5 km from its area, on a node whose own horizontal_m is 1 km,
// could conflict with what it declared since (the default is 9260 m).
func TestPeerReachDefaultSettings(t *testing.T) {
	st := dc.DefaultSettings()
	st.HorizontalM = 1000
	p := &dc.Peer{Key: "k", Parties: []string{"bravo"}, Area: []dc.Box{{10.5, 10, 11, 10.5}}}
	vols := circleOp(t, s2.LatLngFromDegrees(10.2, 10.45), 100) // about 5.4 km west of the area
	if why := peerReach(geo.NewIndex(), p, vols, st); why == "" {
		t.Errorf("an operation 5 km from the area of a peer with the default horizontal_m (9260 m) is out of its reach")
	}
	high := dc.DefaultSettings()
	high.HorizontalM = 3000
	p.Settings = &high
	if why := peerReach(geo.NewIndex(), p, vols, st); why != "" {
		t.Errorf("an operation 5 km from the area, with horizontal_m 1000 and 3000 m: %s", why)
	}
}

// randAreaBox returns a box of a peer's declared area, in degrees: near
// the poles and the antimeridian too, across it a quarter of the time,
// some of zero width or height, some ending at ±180° or ±90°, some of
// every longitude.
func randAreaBox(r *rand.Rand) dc.Box {
	lat := 90 * (2*r.Float64() - 1)
	if r.IntN(3) == 0 {
		lat = math.Copysign(80+10*r.Float64(), lat) // near a pole
	}
	hlat, hlng := 3*r.Float64()*r.Float64(), 20*r.Float64()*r.Float64()
	if r.IntN(8) == 0 {
		hlat = 0
	}
	if r.IntN(8) == 0 {
		hlng = 0
	}
	b := dc.Box{0, max(-90, lat-hlat), 0, min(90, lat+hlat)}
	lng := 360*r.Float64() - 180
	switch r.IntN(8) {
	case 0: // across the antimeridian
		b[0], b[2] = 180-hlng, -180+hlng
	case 1: // ending at -180° or 180°
		if r.IntN(2) == 0 {
			b[0], b[2] = -180, -180+hlng
		} else {
			b[0], b[2] = 180-hlng, 180
		}
	case 2:
		b[0], b[2] = -180, 180
	default:
		b[0], b[2] = max(-180, lng-hlng), min(180, lng+hlng)
	}
	return b
}

// randIn returns a random point of r, on an edge or a corner half of
// the time.
func randIn(r *rand.Rand, rect s2.Rect) s2.LatLng {
	lat := rect.Lat.Lo + r.Float64()*rect.Lat.Length()
	lng := rect.Lng.Lo + r.Float64()*rect.Lng.Length()
	switch r.IntN(4) {
	case 0:
		lat = rect.Lat.Lo
	case 1:
		lat = rect.Lat.Hi
	}
	if r.IntN(2) == 0 {
		lng = rect.Lng.Lo
		if r.IntN(2) == 0 {
			lng = rect.Lng.Hi
		}
	}
	return s2.LatLng{Lat: s1.Angle(lat), Lng: s1.Angle(math.Remainder(lng, 2*math.Pi))}.Normalized()
}

// boxRect returns the box b of a declared area as the docs define it,
// not by BBox.rect (which it tests): latitudes from b[1] to b[3], and
// longitudes eastwards from b[0] to b[2], across the antimeridian when
// b[0] > b[2]; -180 to 180 is every longitude.
func boxRect(b dc.Box) s2.Rect {
	w := b[2] - b[0]
	if w < 0 {
		w += 360
	}
	lo := b[0] * math.Pi / 180
	return s2.Rect{
		Lat: r1.Interval{Lo: b[1] * math.Pi / 180, Hi: b[3] * math.Pi / 180},
		// An interval from lo of length w, not normalized: randIn
		// reads it only by Lo and Length.
		Lng: s1.Interval{Lo: lo, Hi: lo + w*math.Pi/180},
	}
}

// TestPeerReachBruteForce checks peerReach against its definition on
// seeded random cases: an operation that comes nearer than the larger
// horizontal_m of the two nodes (less a metre, the contract's tolerance)
// to a point of the peer's declared area, or of the bounding box of an
// operation of one of the peer's parties held here, is in its reach, near
// the poles and across the antimeridian too; and one that stays farther
// north or south than that of all of them, and of nothing else, is not.
func TestPeerReachBruteForce(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 7))
	reached, out := 0, 0
	for range 3000 {
		st := dc.DefaultSettings()
		st.HorizontalM = math.Exp(math.Log(50) + r.Float64()*math.Log(4000)) // 50 m to 200 km
		p := &dc.Peer{Key: "k", Parties: []string{"bravo", "delta"}}
		h := max(st.HorizontalM, dc.DefaultSettings().HorizontalM)
		if r.IntN(2) == 0 {
			ps := dc.DefaultSettings()
			ps.HorizontalM = math.Exp(math.Log(50) + r.Float64()*math.Log(4000))
			p.Settings, h = &ps, max(st.HorizontalM, ps.HorizontalM)
		}
		// The airspace: a declared area, operations of the peer's
		// parties, or both; and an operation of charlie's (another
		// node's) that is not part of it.
		var rects []s2.Rect
		for range r.IntN(3) {
			b := randAreaBox(r)
			p.Area = append(p.Area, b)
			rects = append(rects, boxRect(b))
		}
		ix := geo.NewIndex()
		for i := range 1 + r.IntN(3) {
			party := []string{"bravo", "delta", "charlie"}[r.IntN(3)]
			c := randIn(r, s2.FullRect())
			if r.IntN(2) == 0 {
				c.Lng = s1.Angle(math.Copysign(math.Pi-1e-3*r.Float64(), c.Lng.Radians())) // at the antimeridian
			}
			vols := circleOp(t, c, math.Exp(math.Log(10)+r.Float64()*math.Log(5000))) // 10 m to 50 km
			if r.IntN(2) == 0 {
				var vs []s2.LatLng
				for k := range 3 + r.IntN(3) {
					vs = append(vs, destination(c, 2*math.Pi*float64(k)/5+r.Float64(), (1+r.Float64()*30000)/geo.EarthRadiusM))
				}
				if f, err := geo.NewPolygon(vs); err == nil {
					vols[0].Footprint = f
				}
			}
			ix.Insert(fmt.Sprintf("op-%d", i), party, vols)
			if party != "charlie" {
				rects = append(rects, vols[0].Footprint.RectBound())
			}
		}
		opR := math.Exp(math.Log(1) + r.Float64()*math.Log(2000)) // 1 m to 2 km
		if len(rects) > 0 && r.IntN(4) != 0 {
			// Near a point of the airspace.
			q := randIn(r, rects[r.IntN(len(rects))])
			d := (h + opR - 1) * math.Sqrt(r.Float64())
			c := destination(q, 2*math.Pi*r.Float64(), d/geo.EarthRadiusM)
			if why := peerReach(ix, p, circleOp(t, c, opR), st); why == "" {
				t.Fatalf("an operation of radius %g m at %v, %g m from %v of the airspace (area %v, horizontal_m %g), is out of reach", opR, c, d, q, p.Area, h)
			}
			reached++
			continue
		}
		if len(p.Area) == 0 {
			p.Area = []dc.Box{randAreaBox(r)} // without one its airspace is everywhere
			rects = append(rects, boxRect(p.Area[0]))
		}
		// North of the whole airspace by more than the minimum.
		north := -math.Pi / 2
		for _, rc := range rects {
			north = max(north, rc.Lat.Hi)
		}
		lat := north + (h+opR)/geo.EarthRadiusM + 1e-6 + 0.1*r.Float64()
		if lat+(h+opR)/geo.EarthRadiusM+1e-6 >= math.Pi/2 {
			continue // it would reach over the pole
		}
		c := s2.LatLng{Lat: s1.Angle(lat), Lng: s1.Angle(math.Pi * (2*r.Float64() - 1))}
		if why := peerReach(ix, p, circleOp(t, c, opR), st); why != "" {
			t.Fatalf("an operation of radius %g m at %v, north of all the airspace (area %v, horizontal_m %g), is in reach: %s", opR, c, p.Area, h, why)
		}
		out++
	}
	t.Logf("%d operations in reach, %d out of it", reached, out)
	if reached == 0 || out == 0 {
		t.Fatal("every case gave the same answer: the test tests too little")
	}
}

// TestPeerReachNames: the reason names the peer and what its operation
// could meet.
func TestPeerReachNames(t *testing.T) {
	p := &dc.Peer{Key: "k", Parties: []string{"bravo"}, Area: []dc.Box{{10.5, 10, 11, 10.5}}}
	why := peerReach(geo.NewIndex(), p, circleOp(t, s2.LatLngFromDegrees(10.25, 10.75), 100), dc.DefaultSettings())
	if !strings.Contains(why, "bravo's node") || !strings.Contains(why, "declared area") {
		t.Errorf("peerReach of an operation inside the area: %q", why)
	}
}
