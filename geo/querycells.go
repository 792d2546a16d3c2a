package geo

import (
	"math"

	"github.com/golang/geo/s1"
	"github.com/golang/geo/s2"
)

// A search works out the cells of each query volume anew (queryCells).
// capCells tests each of up to sixteen children against the cap with
// s2.Cap.IntersectsCell, which normalises the child's vertices and, for
// a child that holds none inside the cap, its edges: most of the time of
// the cells.
//
// searchCapCells picks the same children by another test. Seen from the
// centre of the sphere onto the plane touching it at the cap's centre
// (the gnomonic projection), a great circle is a straight line and the
// cap is the disc of radius tan(r) around the point of contact; an S2
// cell, whose edges are great-circle arcs, is the quadrilateral of its
// projected vertices. A child meets the cap exactly when that disc meets
// that quadrilateral, which takes a division for each vertex, and no
// square root; and a parent that the disc misses spares the test of its
// four children. The disc is widened by a relative 1e-9 against rounding:
// a cell nearer the cap than that may be listed too, which costs a
// search a range scan and changes no answer (every candidate is compared
// exactly). Cells too large for the plane to serve well (coarser than
// gnomonicMinLevel, or with a vertex more than 60 degrees from the cap's
// centre) are tested as capCells tests them.
//
// Only searches use it: the cells a footprint is filed under are kept in
// snapshots (cellsVersion) and stay capCells' own.

// gnomonicMinLevel is the coarsest level of the children tested in the
// plane: their cells are at most about a tenth of a radian across.
const gnomonicMinLevel = 5

// gnomonicMinCos is the least cosine of the angle between the cap's
// centre and a vertex projected: beyond about 60 degrees the child is
// tested as capCells tests it.
const gnomonicMinCos = 0.5

// searchCapCells returns the cells capCells(c, r) returns, and at most
// a few more within a relative 1e-9 of the cap.
func searchCapCells(c s2.Point, r s1.Angle) []s2.CellID {
	return searchCapCellsCos(c, r, gnomonicMinCos)
}

// searchCapCellsCos is searchCapCells projecting only vertices whose
// angle to c has a cosine over minCos.
func searchCapCellsCos(c s2.Point, r s1.Angle, minCos float64) []s2.CellID {
	cells, level, done := capNeighbours(c, r)
	if done {
		return cells
	}
	if level+1 < gnomonicMinLevel {
		return childrenMeeting(cells, s2.CapFromCenterAngle(c, r))
	}
	d := newDisc(c, r, minCos)
	var cp s2.Cap // the cap of the exact test, made when first needed
	made := false
	out := make([]s2.CellID, 0, 4*len(cells))
	for _, id := range cells {
		if meets, ok := d.meetsCell(s2.CellFromCellID(id)); ok && !meets {
			continue // nor do its children
		}
		for _, ch := range id.Children() {
			cell := s2.CellFromCellID(ch)
			meets, ok := d.meetsCell(cell)
			if !ok {
				if !made {
					cp, made = s2.CapFromCenterAngle(c, r), true
				}
				meets = cp.IntersectsCell(cell)
			}
			if meets {
				out = append(out, ch)
			}
		}
	}
	return out
}

// childrenMeeting returns the children of cells that meet cp.
func childrenMeeting(cells []s2.CellID, cp s2.Cap) []s2.CellID {
	out := make([]s2.CellID, 0, 4*len(cells))
	for _, id := range cells {
		for _, ch := range id.Children() {
			if cp.IntersectsCell(s2.CellFromCellID(ch)) {
				out = append(out, ch)
			}
		}
	}
	return out
}

// disc is a cap seen in the gnomonic projection at its centre: the plane
// has the axes e1 and e2, the disc the radius r; vertices whose angle to
// the centre has a cosine of minCos or less are not projected.
type disc struct {
	c, e1, e2 s2.Point
	r         float64
	minCos2   float64 // minCos squared
}

func newDisc(c s2.Point, r s1.Angle, minCos float64) disc {
	e1 := s2.Ortho(c)
	e2 := s2.Point{Vector: c.Cross(e1.Vector)}
	return disc{c: c, e1: e1, e2: e2, r: math.Tan(float64(r)) * (1 + 1e-9), minCos2: minCos * minCos}
}

// meetsCell reports whether the cap meets cell; ok is false when a
// vertex of the cell is too far from the centre for the projection.
func (d *disc) meetsCell(cell s2.Cell) (meets, ok bool) {
	var p [4][2]float64
	for k := range 4 {
		v := cell.VertexRaw(k).Vector // the projection needs no unit vector
		dot := v.Dot(d.c.Vector)
		if dot <= 0 || dot*dot <= d.minCos2*v.Norm2() {
			return false, false
		}
		p[k] = [2]float64{v.Dot(d.e1.Vector) / dot, v.Dot(d.e2.Vector) / dot}
	}
	return discMeetsQuad(d.r, &p), true
}

// discMeetsQuad reports whether the disc of radius r around the origin
// meets the convex quadrilateral p (vertices in order, either way round):
// a vertex is in the disc, or the origin is inside the quadrilateral, or
// within r of an edge. A quadrilateral wholly to one side of the disc's
// bounding square is passed over first.
func discMeetsQuad(r float64, p *[4][2]float64) bool {
	r2 := r * r
	left, right, below, above := true, true, true, true
	for k := range 4 {
		x, y := p[k][0], p[k][1]
		if x*x+y*y <= r2 {
			return true
		}
		left, right = left && x < -r, right && x > r
		below, above = below && y < -r, above && y > r
	}
	if left || right || below || above {
		return false
	}
	pos, neg := false, false
	for k := range 4 {
		a, b := p[k], p[(k+1)&3]
		// The side of the edge a→b the origin is on.
		if side := a[0]*b[1] - a[1]*b[0]; side > 0 {
			pos = true
		} else if side < 0 {
			neg = true
		}
	}
	if !pos || !neg {
		return true
	}
	for k := range 4 {
		a, b := p[k], p[(k+1)&3]
		ex, ey := b[0]-a[0], b[1]-a[1]
		t := 0.0
		if l2 := ex*ex + ey*ey; l2 > 0 {
			t = min(max(-(a[0]*ex+a[1]*ey)/l2, 0), 1)
		}
		qx, qy := a[0]+t*ex, a[1]+t*ey
		if qx*qx+qy*qy <= r2 {
			return true
		}
	}
	return false
}
