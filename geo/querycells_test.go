package geo

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/golang/geo/r3"
	"github.com/golang/geo/s1"
	"github.com/golang/geo/s2"
)

// TestSearchCapCells checks that the cells a search covers a cap with
// are those capCells files it under (s2.Cap.IntersectsCell's choice),
// never fewer: over caps of 1 m to 3,000 km anywhere, with many centred
// on the edges and corners of cube faces and of cells, where the cells
// around the cap cross faces.
func TestSearchCapCells(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	n := 200000
	if testing.Short() {
		n = 20000
	}
	extra, tested := 0, 0
	for i := range n {
		var c s2.Point
		switch i % 4 {
		case 0, 1: // anywhere
			c = s2.Point{Vector: r3.Vector{X: r.NormFloat64(), Y: r.NormFloat64(), Z: r.NormFloat64()}.Normalize()}
		case 2: // on a vertex of a cell of some level
			id := s2.CellIDFromLatLng(s2.LatLngFromDegrees(180*r.Float64()-90, 360*r.Float64()-180)).Parent(r.IntN(20))
			c = s2.CellFromCellID(id).Vertex(r.IntN(4))
		default: // near a cube corner or edge
			v := r3.Vector{X: 1, Y: 1, Z: 1}
			if r.IntN(2) == 0 {
				v.Z = 2*r.Float64() - 1
			}
			v = r3.Vector{X: v.X + 1e-3*r.NormFloat64(), Y: v.Y + 1e-3*r.NormFloat64(), Z: v.Z}
			c = s2.Point{Vector: v.Normalize()}
		}
		radiusM := math.Exp(math.Log(1) + r.Float64()*math.Log(3e6))
		rad := s1.Angle(radiusM / EarthRadiusM)
		want := capCells(c, rad)
		// Every fourth cap with most cells left to the exact test.
		minCos := gnomonicMinCos
		if i%8 >= 6 {
			minCos = 1 - 1e-12
		}
		got := searchCapCellsCos(c, rad, minCos)
		for _, id := range want {
			if !slices.Contains(got, id) {
				t.Fatalf("cap at %v, %.3f m: capCells has %v, the search's cells %v do not", s2.LatLngFromPoint(c), radiusM, id, got)
			}
		}
		tested++
		extra += len(got) - len(want)
	}
	// A cell more than capCells lists is one nearer the cap than the
	// rounding margin: next to never.
	if extra > tested/10000 {
		t.Errorf("%d cells more than capCells over %d caps", extra, tested)
	}
}

// TestDiscMeetsQuad checks the planar test on a square around the origin
// and beside it.
func TestDiscMeetsQuad(t *testing.T) {
	sq := func(x, y float64) *[4][2]float64 { // the unit square at (x, y)
		return &[4][2]float64{{x, y}, {x + 1, y}, {x + 1, y + 1}, {x, y + 1}}
	}
	for _, tc := range []struct {
		name string
		r    float64
		p    *[4][2]float64
		want bool
	}{
		{"origin inside", 0.01, sq(-0.5, -0.5), true},
		{"clockwise, origin inside", 0.01, &[4][2]float64{{-0.5, -0.5}, {-0.5, 0.5}, {0.5, 0.5}, {0.5, -0.5}}, true},
		{"an edge within reach", 1.01, sq(1, -0.5), true},
		{"an edge out of reach", 0.99, sq(1, -0.5), false},
		{"a corner within reach", math.Sqrt2 + 1e-9, sq(1, 1), true},
		{"a corner out of reach", math.Sqrt2 - 1e-9, sq(1, 1), false},
		{"origin on an edge", 1e-12, sq(0, -0.5), true},
	} {
		if got := discMeetsQuad(tc.r, tc.p); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}
