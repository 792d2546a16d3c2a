package geo

import (
	"math"

	"github.com/golang/geo/s1"
	"github.com/golang/geo/s2"
)

// The index files each volume under keys of (time bucket, S2 cell).
//
// Time buckets come in levels: level k cuts time into buckets of
// 2^(12+2k) seconds (68 minutes, 4.6 hours, 18 hours, 3 days, ...), and
// a window is filed at the finest level where it spans at most two
// buckets; windows too long for the coarsest level go to one bucket that
// spans all time.
//
// Cells cover the volume's bounding cap: the children, where they meet
// the cap, of the three or four cells around the cell vertex nearest its
// centre at the finest level whose cells are at least as wide as the cap
// (as s2.Cap.CellUnionBound picks them). They are never finer than level
// maxEntryLevel, so that a cell fits in the upper half of a 64-bit key.

const (
	timeLevels    = 9 // 8 levels of buckets, and one of all time
	timeBaseShift = 12
	bucketBits    = 28
	bucketOffset  = 1 << (bucketBits - 1)
	maxEntryLevel = 14   // cells of about 600 m; their ids end in 32 zero bits
	timeSlack     = 1e-3 // seconds
)

// bucketWidth returns the width in seconds of the buckets of time level k.
func bucketWidth(k int) float64 { return math.Ldexp(1, timeBaseShift+2*k) }

// bucketIndex returns the bucket of level k that holds t (seconds),
// clamped to what a key holds (far beyond any RFC 3339 year).
func bucketIndex(k int, t float64) int64 {
	b := math.Floor(t / bucketWidth(k))
	return int64(min(max(b, -bucketOffset), bucketOffset-1))
}

// bucketKey packs a level and a bucket index into a key.
func bucketKey(k int, b int64) uint32 {
	return uint32(k)<<bucketBits | uint32(b+bucketOffset)
}

// timeSpan returns the level and bucket range under which a window from
// start to end is filed.
func timeSpan(start, end float64) (k int, lo, hi int64) {
	for k = 0; k < timeLevels-1; k++ {
		lo, hi = bucketIndex(k, start), bucketIndex(k, end)
		if hi-lo <= 1 {
			return k, lo, hi
		}
	}
	return timeLevels - 1, 0, 0
}

// queryBuckets returns the range of buckets of level k that may hold a
// window reaching into [t0, t1].
func queryBuckets(k int, t0, t1 float64) (lo, hi int64) {
	if k == timeLevels-1 {
		return 0, 0
	}
	return bucketIndex(k, t0), bucketIndex(k, t1)
}

// itemKey packs a cell of level at most maxEntryLevel and a slot.
func itemKey(c s2.CellID, slot uint32) uint64 { return uint64(c)&^math.MaxUint32 | uint64(slot) }

func keySlot(k uint64) uint32 { return uint32(k) }

// entryCells returns the cells under which a footprint is filed.
func entryCells(f *Footprint) []s2.CellID {
	if f.cells != nil {
		return f.cells
	}
	return capCells(f.bound.Center(), f.boundR)
}

// cellsVersion names the way capCells and the constants above file a
// footprint. Change it with them: the compact form (EncodeVolumes) keeps
// the cells with it, and DecodeVolumes ignores cells filed another way.
const cellsVersion = 1

// queryCells returns cells that hold every footprint closer than
// horizontalM to f (searchCapCells: those capCells gives, or a few more).
func queryCells(f *Footprint, horizontalM float64) []s2.CellID {
	return searchCapCells(f.bound.Center(), f.boundR+s1.Angle(max(horizontalM, 0)/EarthRadiusM)+capSlack)
}

// capCells returns cells of level at most maxEntryLevel that cover the
// cap of centre c and radius r: see the top of this file.
func capCells(c s2.Point, r s1.Angle) []s2.CellID {
	cells, _, done := capNeighbours(c, r)
	if done {
		return cells
	}
	return childrenMeeting(cells, s2.CapFromCenterAngle(c, r))
}

// capNeighbours returns the cells around c of the level whose cells are
// at least as wide as r (at most maxEntryLevel; the six faces for a cap
// of a hemisphere or more), and that level. done says they are the
// covering already; otherwise the covering is those of their children
// that meet the cap.
func capNeighbours(c s2.Point, r s1.Angle) (cells []s2.CellID, level int, done bool) {
	level = s2.MinWidthMetric.MaxLevel(float64(r)) - 1
	if r >= math.Pi/2 || level < 0 {
		return faces, level, true
	}
	cells = s2.CellFromPoint(c).ID().VertexNeighbors(min(level, maxEntryLevel))
	return cells, level, level >= maxEntryLevel
}

var faces = []s2.CellID{
	s2.CellIDFromFace(0), s2.CellIDFromFace(1), s2.CellIDFromFace(2),
	s2.CellIDFromFace(3), s2.CellIDFromFace(4), s2.CellIDFromFace(5),
}

// cellOfItem returns the cell of an item key.
func cellOfItem(k uint64) s2.CellID { return s2.CellID(k &^ math.MaxUint32) }
