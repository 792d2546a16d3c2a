package geo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/golang/geo/r3"
	"github.com/golang/geo/s1"
	"github.com/golang/geo/s2"
)

// A search that leaves out a cell its circle reaches misses the conflicts
// filed under it. TestQueryCellsCoverTheCap holds the cells a search
// works out (queryCells, through the gnomonic test of searchCapCells) to
// three answers that do not use that test:
//
//   - the cells capCells gives for the same cap (s2.Cap.IntersectsCell);
//   - every cell of the covering's level whose distance to the centre
//     (s2.Cell.Distance) is at most the cap's radius, found by walking
//     out from the centre's cell through its neighbours;
//   - points just inside the cap's rim, each in a cell of the covering.
//
// The caps are what queryCells makes of a circle of 1 m to 2,000 km and
// each horizontal minimum a check may use, centred where the cells are
// awkward: cube corners and edges, face centres (two are the poles), the
// antimeridian, vertices and edge midpoints of cells of every level,
// exactly or a rounding error away; radii either log-uniform or at the
// widths where the level of the covering changes.
func TestQueryCellsCoverTheCap(t *testing.T) {
	r := newRand(t)
	n := cases(40000)
	gnomonic := 0 // caps whose children go through the planar test
	for i := range n {
		c := awkwardCentre(r)
		var radiusM float64
		if r.IntN(2) == 0 {
			radiusM = math.Exp(r.Float64() * math.Log(MaxRadiusM))
		} else {
			// At a width where MaxLevel, hence the covering, changes.
			k := 1 + r.IntN(maxEntryLevel+2)
			w := s2.MinWidthMetric.Value(k) * []float64{1, 1 - 1e-12, 1 + 1e-12, 1 - 1e-6, 1 + 1e-6, 0.5, 0.999}[r.IntN(7)]
			radiusM = max(w*EarthRadiusM-capSlack*EarthRadiusM, 0.01)
		}
		radiusM = min(radiusM, MaxRadiusM)
		horizontalM := []float64{0, 0, 9260, 100_000, 2_000_000}[r.IntN(5)]
		f := circleFootprint(c, s1.Angle(radiusM/EarthRadiusM))
		got := queryCells(f, horizontalM)
		centre := f.bound.Center()
		reach := f.boundR + s1.Angle(horizontalM/EarthRadiusM) + capSlack
		if level := s2.MinWidthMetric.MaxLevel(float64(reach)) - 1; level+1 >= gnomonicMinLevel && level < maxEntryLevel {
			gnomonic++
		}
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("cap %d at %v (%v), circle %.6g m + %.6g m: %s\ncells %v", i, s2.LatLngFromPoint(centre), centre.Vector, radiusM, horizontalM, fmt.Sprintf(format, args...), got)
		}
		for _, id := range capCells(centre, reach) {
			if !slices.Contains(got, id) {
				fail("capCells has %v", id)
			}
		}
		if covers(got, centre, reach, fail) {
			continue
		}
		for _, p := range rimPoints(r, centre, reach) {
			if !containsPoint(got, p) {
				fail("no cell holds %v, %v from the centre", s2.LatLngFromPoint(p), centre.Distance(p))
			}
		}
	}
	if gnomonic < n/10 {
		t.Fatalf("only %d of %d caps went through the planar test", gnomonic, n)
	}
	t.Logf("%d caps, %d through the planar test", n, gnomonic)
}

// awkwardCentre returns a centre where the cells around it cross faces
// or meet, or anywhere.
func awkwardCentre(r *rand.Rand) s2.Point {
	sign := func() float64 { return float64(1 - 2*r.IntN(2)) }
	var v r3.Vector
	switch r.IntN(8) {
	case 0: // anywhere
		v = r3.Vector{X: r.NormFloat64(), Y: r.NormFloat64(), Z: r.NormFloat64()}
	case 1: // a cube corner
		v = r3.Vector{X: sign(), Y: sign(), Z: sign()}
	case 2: // a cube edge
		a := [3]float64{sign(), sign(), 2*r.Float64() - 1}
		k := r.IntN(3)
		a[k], a[2] = a[2], a[k]
		v = r3.Vector{X: a[0], Y: a[1], Z: a[2]}
	case 3: // a face centre: two are the poles
		a := [3]float64{}
		a[r.IntN(3)] = sign()
		v = r3.Vector{X: a[0], Y: a[1], Z: a[2]}
	case 4: // the antimeridian, the poles
		lat := []float64{90, -90, 89.9999, 180*r.Float64() - 90}[r.IntN(4)]
		lng := []float64{180, -180, 179.9999, -179.9999}[r.IntN(4)]
		v = s2.PointFromLatLng(s2.LatLngFromDegrees(lat, lng)).Vector
	case 5: // a vertex of a cell of some level
		id := s2.CellFromPoint(s2.Point{Vector: r3.Vector{X: r.NormFloat64(), Y: r.NormFloat64(), Z: r.NormFloat64()}}).ID().Parent(r.IntN(maxEntryLevel + 3))
		v = s2.CellFromCellID(id).Vertex(r.IntN(4)).Vector
	default: // the middle of an edge of a cell of some level
		id := s2.CellFromPoint(s2.Point{Vector: r3.Vector{X: r.NormFloat64(), Y: r.NormFloat64(), Z: r.NormFloat64()}}).ID().Parent(r.IntN(maxEntryLevel + 3))
		cell := s2.CellFromCellID(id)
		k := r.IntN(4)
		v = cell.Vertex(k).Add(cell.Vertex((k + 1) & 3).Vector)
	}
	v = v.Normalize()
	// Exactly there, or a rounding error or a little more away.
	if e := []float64{0, 0, 1e-16, 1e-12, 1e-7}[r.IntN(5)]; e > 0 {
		v = r3.Vector{X: v.X + e*r.NormFloat64(), Y: v.Y + e*r.NormFloat64(), Z: v.Z + e*r.NormFloat64()}.Normalize()
	}
	return s2.Point{Vector: v}
}

// covers checks that every cell of the covering's level that s2 puts
// within reach of centre is in cells, and reports whether cells are
// the six faces (which cover everything).
func covers(cells []s2.CellID, centre s2.Point, reach s1.Angle, fail func(string, ...any)) (all bool) {
	if slices.Equal(cells, faces) {
		return true
	}
	level := cells[0].Level()
	for _, id := range cells {
		if id.Level() != level {
			fail("cells of levels %d and %d", level, id.Level())
		}
	}
	limit := s1.ChordAngleFromAngle(reach)
	start := s2.CellFromPoint(centre).ID().Parent(level)
	seen := map[s2.CellID]bool{start: true}
	for next := []s2.CellID{start}; len(next) > 0; {
		id := next[len(next)-1]
		next = next[:len(next)-1]
		if s2.CellFromCellID(id).Distance(centre) > limit {
			continue
		}
		if !slices.Contains(cells, id) {
			fail("cell %v is %v from the centre, within %v", id, s2.CellFromCellID(id).Distance(centre).Angle(), reach)
		}
		for _, nb := range id.AllNeighbors(level) {
			if !seen[nb] {
				seen[nb] = true
				next = append(next, nb)
			}
		}
		if len(seen) > 1000 {
			fail("more than 1000 cells of level %d within reach", level)
		}
	}
	return false
}

// rimPoints returns points just inside the rim of the cap, all round.
func rimPoints(r *rand.Rand, centre s2.Point, reach s1.Angle) []s2.Point {
	e1 := s2.Ortho(centre)
	e2 := centre.Cross(e1.Vector).Normalize()
	d := float64(reach) * (1 - 1e-9)
	var ps []s2.Point
	for range 8 {
		b := 2 * math.Pi * r.Float64()
		dir := e1.Mul(math.Cos(b)).Add(e2.Mul(math.Sin(b)))
		ps = append(ps, s2.Point{Vector: centre.Mul(math.Cos(d)).Add(dir.Mul(math.Sin(d))).Normalize()})
	}
	return ps
}

// containsPoint reports whether a cell of cells holds p.
func containsPoint(cells []s2.CellID, p s2.Point) bool {
	leaf := s2.CellFromPoint(p).ID()
	for _, id := range cells {
		if id.Contains(leaf) {
			return true
		}
	}
	return false
}

// TestSearchCapCellsTouching checks the cells of caps that just reach a
// cell: the radius is the cell's distance from the centre as s2 works it
// out (s2.Cell.Distance), so the cap touches the cell at one point, where
// rounding decides. The search must list that cell. The plane's margin
// (a relative 1e-9) takes it in at exactly that radius. The exact test
// (s2.Cap.IntersectsCell, for cells too far out for the plane) and
// s2.Cell.Distance disagree by up to about 2e-16 radians, a micrometre,
// which capSlack dwarfs: it is held to the cell at 1e-15 more.
func TestSearchCapCellsTouching(t *testing.T) {
	r := newRand(t)
	n := cases(20000)
	touched := 0
	for range n {
		c := awkwardCentre(r)
		reach := s1.Angle(math.Exp(math.Log(200)+r.Float64()*math.Log(1000)) / EarthRadiusM) // 200 m to 200 km
		level := s2.MinWidthMetric.MaxLevel(float64(reach)) - 1
		if level+1 < gnomonicMinLevel || level >= maxEntryLevel {
			continue
		}
		for _, id := range s2.CellFromPoint(c).ID().VertexNeighbors(level) {
			for _, ch := range id.Children() {
				d := s2.CellFromCellID(ch).Distance(c).Angle()
				if d == 0 || s2.MinWidthMetric.MaxLevel(float64(d))-1 != level {
					continue // holds the centre, or a cap that wide has other cells
				}
				touched++
				for _, k := range []struct {
					minCos float64
					r      s1.Angle
				}{{gnomonicMinCos, d}, {1 - 1e-12, d + 1e-15}} {
					if got := searchCapCellsCos(c, k.r, k.minCos); !slices.Contains(got, ch) {
						t.Fatalf("cap at %v (%v), radius %.17g rad (min cos %v): the cell %v it touches is not in %v",
							s2.LatLngFromPoint(c), c.Vector, k.r.Radians(), k.minCos, ch, got)
					}
				}
			}
		}
	}
	if touched < n/2 {
		t.Fatalf("only %d cells touched in %d caps", touched, n)
	}
	t.Logf("%d cells touched", touched)
}
