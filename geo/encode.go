package geo

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/deconflict/deconflict"
	"github.com/golang/geo/r3"
	"github.com/golang/geo/s1"
	"github.com/golang/geo/s2"
)

// The compact form of parsed volumes (EncodeVolumes) holds exactly what
// the index and the comparisons use, so that DecodeVolumes rebuilds
// footprints equal to the parsed ones to the last bit, without parsing,
// validating or orienting anything again. All numbers are little-endian.
//
//	byte     version (encodingVersion)
//	byte     how the cells were worked out (cellsVersion)
//	uvarint  number of volumes, then for each:
//	byte     kind: circle, polygon, or polygon whose interior holds s2.OriginPoint()
//	float64  lower and upper altitude (m)
//	int64, uint32   start: Unix seconds and nanoseconds; the same for end
//	circle:  float64 x, y, z of the centre; float64 radius (radians)
//	polygon: float64 x, y, z of the bounding cap's centre, float64 its
//	         height; uvarint vertex count; float64 x, y, z of each vertex
//	         (oriented, interior on the left)
//	uvarint  number of cells under which the index files the footprint,
//	         then each cell ID as a uint64
const encodingVersion = 1

const (
	kindCircle = iota
	kindPolygon
	kindPolygonOrigin
)

// EncodeVolumes returns the compact form of volumes made by ParseVolumes,
// NewPolygon or NewCircle, which DecodeVolumes reads back.
func EncodeVolumes(vols []Volume) []byte {
	n := 2
	for i := range vols {
		n += 1 + 4*8 + 2*4 + 4*8 + 8 + 3*8*len(vols[i].Footprint.verts)
	}
	b := make([]byte, 0, n)
	b = append(b, encodingVersion, cellsVersion)
	b = binary.AppendUvarint(b, uint64(len(vols)))
	for i := range vols {
		v := &vols[i]
		f := v.Footprint
		b = append(b, kindOf(f))
		b = appendFloat(b, v.LowerM)
		b = appendFloat(b, v.UpperM)
		b = appendTime(b, v.Start)
		b = appendTime(b, v.End)
		b = appendFootprint(b, f)
	}
	return b
}

// appendFootprint appends the shape and cells of f, after its kind byte:
// the footprint part of the compact form.
func appendFootprint(b []byte, f *Footprint) []byte {
	if f.circle {
		b = appendPoint(b, f.center)
		b = appendFloat(b, float64(f.radius))
	} else {
		b = appendPoint(b, f.bound.Center())
		b = appendFloat(b, f.bound.Height())
		b = binary.AppendUvarint(b, uint64(len(f.verts)))
		for _, p := range f.verts {
			b = appendPoint(b, p)
		}
	}
	cells := entryCells(f)
	b = binary.AppendUvarint(b, uint64(len(cells)))
	for _, c := range cells {
		b = binary.LittleEndian.AppendUint64(b, uint64(c))
	}
	return b
}

// kindOf returns the kind byte of f in the compact form.
func kindOf(f *Footprint) byte {
	switch {
	case f.circle:
		return kindCircle
	case f.originInside:
		return kindPolygonOrigin
	default:
		return kindPolygon
	}
}

func appendFloat(b []byte, v float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
}

func appendPoint(b []byte, p s2.Point) []byte {
	return appendFloat(appendFloat(appendFloat(b, p.X), p.Y), p.Z)
}

func appendTime(b []byte, t time.Time) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(t.Unix()))
	return binary.LittleEndian.AppendUint32(b, uint32(t.Nanosecond()))
}

// maxCells bounds the cells of a footprint (capCells gives at most 16).
const maxCells = 64

// errCorrupt is wrapped by the errors of DecodeVolumes.
var errCorrupt = errors.New("corrupt compact volumes")

// DecodeVolumes reads volumes back from the form EncodeVolumes gives; they
// compare, in the index and in CompareOperations, exactly as the encoded
// ones. It trusts what it reads (it was validated before it was encoded)
// and checks only that the data is well formed; times come back in UTC.
func DecodeVolumes(data []byte) ([]Volume, error) {
	d := decoder{b: data}
	if v := d.byte(); v != encodingVersion {
		return nil, fmt.Errorf("%w: version %d", errCorrupt, v)
	}
	sameCells := d.byte() == cellsVersion
	n := d.uvarint()
	if n == 0 || n > deconflict.MaxVolumes {
		return nil, fmt.Errorf("%w: %d volumes", errCorrupt, n)
	}
	vols := make([]Volume, n)
	for i := range vols {
		v := &vols[i]
		kind := d.byte()
		v.LowerM, v.UpperM = d.float(), d.float()
		v.Start, v.End = d.time(), d.time()
		f, err := d.footprint(kind, sameCells)
		if err != nil {
			return nil, err
		}
		v.Footprint = f
		if d.short {
			break
		}
	}
	if d.short || len(d.b) != 0 {
		return nil, fmt.Errorf("%w: %d bytes", errCorrupt, len(data))
	}
	return vols, nil
}

// footprint reads the footprint part of the compact form (appendFootprint)
// of a footprint of the kind. Unless sameCells, the cells read are
// replaced by those this version works out.
func (d *decoder) footprint(kind byte, sameCells bool) (*Footprint, error) {
	var f *Footprint
	switch kind {
	case kindCircle:
		c := d.point()
		f = circleFootprint(c, s1.Angle(d.float()))
	case kindPolygon, kindPolygonOrigin:
		c, h := d.point(), d.float()
		nv := d.uvarint()
		if nv < MinVertices || nv > deconflict.MaxVertices || nv*24 > uint64(len(d.b)) {
			return nil, fmt.Errorf("%w: %d vertices", errCorrupt, nv)
		}
		verts := make([]s2.Point, nv)
		for j := range verts {
			verts[j] = d.point()
		}
		f = &Footprint{verts: verts, originInside: kind == kindPolygonOrigin}
		f.bound = s2.CapFromCenterChordAngle(c, s1.ChordAngle(2*h))
		f.boundR = f.bound.Radius()
		if len(verts) > treeMin {
			f.tree = buildTree(verts)
		}
	default:
		return nil, fmt.Errorf("%w: volume kind %d", errCorrupt, kind)
	}
	nc := d.uvarint()
	if nc == 0 || nc > maxCells || nc*8 > uint64(len(d.b)) {
		return nil, fmt.Errorf("%w: %d cells", errCorrupt, nc)
	}
	cells := make([]s2.CellID, nc)
	for j := range cells {
		cells[j] = s2.CellID(binary.LittleEndian.Uint64(d.take(8)))
	}
	if !sameCells {
		cells = capCells(f.bound.Center(), f.boundR)
	}
	f.cells = cells
	return f, nil
}

// decoder reads a compact form; past its end it reads zeros and sets
// short.
type decoder struct {
	b     []byte
	short bool
}

func (d *decoder) take(n int) []byte {
	if len(d.b) < n {
		d.short, d.b = true, nil
		return make([]byte, n)
	}
	p := d.b[:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) byte() byte     { return d.take(1)[0] }
func (d *decoder) float() float64 { return math.Float64frombits(binary.LittleEndian.Uint64(d.take(8))) }
func (d *decoder) point() s2.Point {
	return s2.Point{Vector: r3.Vector{X: d.float(), Y: d.float(), Z: d.float()}}
}
func (d *decoder) time() time.Time {
	sec := int64(binary.LittleEndian.Uint64(d.take(8)))
	return time.Unix(sec, int64(binary.LittleEndian.Uint32(d.take(4)))).UTC()
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.short, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}
