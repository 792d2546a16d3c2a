package dss

import (
	"math"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/geo"
	"github.com/golang/geo/s1"
	"github.com/golang/geo/s2"
)

// coverLevel is the level of the S2 cells in which the DSS decides
// whether a subscription covers an operational intent: about 1 km², the
// level the InterUSS DSS keeps every footprint at. A subscription covers
// an intent when every cell the intent's footprints touch is touched by
// the subscription's, so a subscription that ends a few metres short of
// an intent's edge, inside the same cell, still covers it, as on the
// InterUSS DSS; one that misses a cell does not.
const coverLevel = 13

// cellsOf returns the cells of level coverLevel that the footprints of
// vols touch (with repeats). The volumes were validated by package geo.
func cellsOf(vols []dc.Volume4D) []s2.CellID {
	rc := &s2.RegionCoverer{MinLevel: coverLevel, MaxLevel: coverLevel, LevelMod: 1, MaxCells: math.MaxInt32}
	var out []s2.CellID
	for _, v := range vols {
		if r := regionOf(v.Volume); r != nil {
			out = append(out, rc.Covering(r)...)
		}
	}
	return out
}

// regionOf returns a footprint as an s2 region: a cap, or the loop of a
// polygon bounding the smaller of its two regions (as package geo reads
// it).
func regionOf(v dc.Volume3D) s2.Region {
	if c := v.OutlineCircle; c != nil {
		center := s2.PointFromLatLng(s2.LatLngFromDegrees(*c.Center.Lat, *c.Center.Lng))
		return s2.CapFromCenterAngle(center, s1.Angle(*c.Radius.Value/geo.EarthRadiusM))
	}
	if v.OutlinePolygon == nil {
		return nil
	}
	pts := ringOf(v.OutlinePolygon)
	if len(pts) < 3 {
		return nil
	}
	l := s2.LoopFromPoints(pts)
	if l.Area() > 2*math.Pi {
		l.Invert()
	}
	return l
}

// ringOf returns the distinct corners of a validated polygon as points,
// in order, without a repeat of the first at the end: the loop s2 builds
// from them (which has fewer than 3 for a degenerate polygon).
func ringOf(p *dc.Polygon) []s2.Point {
	var pts []s2.Point
	for _, v := range p.Vertices {
		pt := s2.PointFromLatLng(s2.LatLngFromDegrees(*v.Lat, *v.Lng))
		if len(pts) > 0 && pts[len(pts)-1] == pt {
			continue
		}
		pts = append(pts, pt)
	}
	if len(pts) > 1 && pts[0] == pts[len(pts)-1] {
		pts = pts[:len(pts)-1]
	}
	return pts
}

// covers reports whether the footprints of sub touch every cell of
// cells (an intent's, from cellsOf): a cell of that level is in the
// covering of a region exactly when the region touches it, so this is
// whether the covering of sub holds the intent's, without computing the
// subscription's, which may have thousands of cells.
func covers(sub []dc.Volume4D, cells []s2.CellID) bool {
	var regions []s2.Region
	for _, v := range sub {
		if r := regionOf(v.Volume); r != nil {
			regions = append(regions, r)
		}
	}
	for _, id := range cells {
		c := s2.CellFromCellID(id)
		touched := false
		for _, r := range regions {
			if r.IntersectsCell(c) {
				touched = true
				break
			}
		}
		if !touched {
			return false
		}
	}
	return true
}
