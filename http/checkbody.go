package http

import (
	"context"
	"strconv"
	"unsafe"

	dc "github.com/deconflict/deconflict"
)

// The body of a what-if check is decoded on every check, and the body
// walker (body.go), which handles any type and words every refusal, took
// about a tenth of a check's time: a token at a time, a reflect.Value
// and an allocation for every number. Nearly every check body has one
// plain shape: {"volumes": [Volume4D, …]} with the fields of the
// contract, strings of printable ASCII without escapes, and numbers.
// scanCheckBody reads that shape straight into the volumes; anything
// else — null, an escape, a duplicate or unknown name, a number out of
// range, malformed JSON — makes it give up, and the walker reads the body
// instead, which also words the error of a body it refuses. So what
// scanCheckBody accepts, the walker accepts with the same value (a fuzz
// test holds it to that), and every refusal is the walker's.

// decodeCheckBody reads the volumes of a what-if check's body.
func decodeCheckBody(ctx context.Context, body []byte) ([]dc.Volume4D, error) {
	if vols, ok := scanCheckBody(ctx, body); ok {
		return vols, nil
	}
	var v struct {
		Volumes []dc.Volume4D `json:"volumes"`
	}
	err := decodeBody(ctx, body, &v)
	return v.Volumes, err
}

// scanCheckBody reads a check body of the plain shape; ok is false for
// any other body.
func scanCheckBody(ctx context.Context, body []byte) (vols []dc.Volume4D, ok bool) {
	s := bodyScanner{ctx: ctx, b: body}
	if !s.byte('{') {
		return nil, false
	}
	if !s.byte('}') {
		if name, ok := s.name(); !ok || name != "volumes" || !s.volumes(&vols) || !s.byte('}') {
			return nil, false
		}
	}
	s.space()
	return vols, s.i == len(s.b)
}

// bodyScanner reads a check body of the plain shape.
type bodyScanner struct {
	ctx context.Context
	b   []byte
	i   int
	// floats holds the numbers read so far, for the *float64 of the
	// volumes to point into: a chunk is allocated at a time, and never
	// grown, so that what points into it stays valid.
	floats []float64
	steps  int
}

// space skips white space.
func (s *bodyScanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// byte reads c after white space, if it is next.
func (s *bodyScanner) byte(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// str reads a string of printable ASCII without escapes, after white
// space, and returns its bytes.
func (s *bodyScanner) str() ([]byte, bool) {
	if !s.byte('"') {
		return nil, false
	}
	start := s.i
	for ; s.i < len(s.b); s.i++ {
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], true
		case c < 0x20 || c > 0x7e || c == '\\':
			return nil, false
		}
	}
	return nil, false
}

// name reads a member's name and its colon. The string it returns points
// into the body: it is only compared, never kept.
func (s *bodyScanner) name() (string, bool) {
	b, ok := s.str()
	if !ok || !s.byte(':') || len(b) == 0 {
		return "", false
	}
	return unsafe.String(&b[0], len(b)), true
}

// text reads a string value.
func (s *bodyScanner) text(dst *string) bool {
	b, ok := s.str()
	if !ok {
		return false
	}
	// The contract's words take no allocation.
	switch string(b) {
	case "M":
		*dst = "M"
	case "FT":
		*dst = "FT"
	case "W84":
		*dst = "W84"
	case "RFC3339":
		*dst = "RFC3339"
	default:
		*dst = string(b)
	}
	return true
}

// number reads a number as JSON writes it, in the range of a float64,
// and sets *dst to point to it.
func (s *bodyScanner) number(dst **float64) bool {
	s.space()
	b, start := s.b, s.i
	i := start
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i++; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		}
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return false
		}
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return false
		}
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		}
	}
	// strconv keeps no reference to the string, not even in its errors.
	f, err := strconv.ParseFloat(unsafe.String(&b[start], i-start), 64)
	if err != nil {
		return false // out of range: the walker says so
	}
	s.i = i
	if len(s.floats) == cap(s.floats) {
		s.floats = make([]float64, 0, min(max(8, 2*cap(s.floats)), 4096))
	}
	s.floats = append(s.floats, f)
	*dst = &s.floats[len(s.floats)-1]
	return true
}

// object reads an object whose members member reads by name (at most
// 16 names, numbered by member); it reports false for a name read twice
// or one member does not know.
func (s *bodyScanner) object(member func(name string) (bit int)) bool {
	if !s.byte('{') {
		return false
	}
	if s.byte('}') {
		return true
	}
	var seen uint16
	for {
		name, ok := s.name()
		if !ok {
			return false
		}
		bit := member(name)
		if bit < 0 || seen&(1<<bit) != 0 {
			return false
		}
		seen |= 1 << bit
		if s.byte('}') {
			return true
		}
		if !s.byte(',') {
			return false
		}
	}
}

// array reads an array, each element with elem.
func (s *bodyScanner) array(elem func() bool) bool {
	if !s.byte('[') {
		return false
	}
	if s.byte(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		if s.byte(']') {
			return true
		}
		if !s.byte(',') {
			return false
		}
	}
}

// volumeParts holds what one volume's pointers point to: one allocation
// for them all.
type volumeParts struct {
	polygon      dc.Polygon
	circle       dc.Circle
	center       dc.LatLng
	radius       dc.Measure
	lower, upper dc.Altitude
	start, end   dc.Time
}

// volumes reads the list of volumes.
func (s *bodyScanner) volumes(dst *[]dc.Volume4D) bool {
	vols := []dc.Volume4D{}
	ok := s.array(func() bool {
		if s.ctx.Err() != nil {
			return false
		}
		vols = append(vols, dc.Volume4D{})
		return s.volume(&vols[len(vols)-1])
	})
	*dst = vols
	return ok
}

func (s *bodyScanner) volume(v *dc.Volume4D) bool {
	p := new(volumeParts)
	return s.object(func(name string) int {
		switch name {
		case "volume":
			return bitIf(0, s.volume3D(&v.Volume, p))
		case "time_start":
			v.TimeStart = &p.start
			return bitIf(1, s.time(&p.start))
		case "time_end":
			v.TimeEnd = &p.end
			return bitIf(2, s.time(&p.end))
		}
		return -1
	})
}

func (s *bodyScanner) volume3D(v *dc.Volume3D, p *volumeParts) bool {
	return s.object(func(name string) int {
		switch name {
		case "outline_polygon":
			v.OutlinePolygon = &p.polygon
			return bitIf(0, s.polygon(&p.polygon))
		case "outline_circle":
			v.OutlineCircle = &p.circle
			return bitIf(1, s.circle(&p.circle, p))
		case "altitude_lower":
			v.AltitudeLower = &p.lower
			return bitIf(2, s.altitude(&p.lower))
		case "altitude_upper":
			v.AltitudeUpper = &p.upper
			return bitIf(3, s.altitude(&p.upper))
		}
		return -1
	})
}

func (s *bodyScanner) polygon(p *dc.Polygon) bool {
	return s.object(func(name string) int {
		if name != "vertices" {
			return -1
		}
		vs := []dc.LatLng{}
		ok := s.array(func() bool {
			if s.steps++; s.steps%4096 == 0 && s.ctx.Err() != nil {
				return false
			}
			vs = append(vs, dc.LatLng{})
			return s.latLng(&vs[len(vs)-1])
		})
		p.Vertices = vs
		return bitIf(0, ok)
	})
}

func (s *bodyScanner) circle(c *dc.Circle, p *volumeParts) bool {
	return s.object(func(name string) int {
		switch name {
		case "center":
			c.Center = &p.center
			return bitIf(0, s.latLng(&p.center))
		case "radius":
			c.Radius = &p.radius
			return bitIf(1, s.object(func(name string) int {
				switch name {
				case "value":
					return bitIf(0, s.number(&p.radius.Value))
				case "units":
					return bitIf(1, s.text(&p.radius.Units))
				}
				return -1
			}))
		}
		return -1
	})
}

func (s *bodyScanner) latLng(ll *dc.LatLng) bool {
	return s.object(func(name string) int {
		switch name {
		case "lat":
			return bitIf(0, s.number(&ll.Lat))
		case "lng":
			return bitIf(1, s.number(&ll.Lng))
		}
		return -1
	})
}

func (s *bodyScanner) altitude(a *dc.Altitude) bool {
	return s.object(func(name string) int {
		switch name {
		case "value":
			return bitIf(0, s.number(&a.Value))
		case "reference":
			return bitIf(1, s.text(&a.Reference))
		case "units":
			return bitIf(2, s.text(&a.Units))
		}
		return -1
	})
}

func (s *bodyScanner) time(t *dc.Time) bool {
	return s.object(func(name string) int {
		switch name {
		case "value":
			return bitIf(0, s.text(&t.Value))
		case "format":
			return bitIf(1, s.text(&t.Format))
		}
		return -1
	})
}

// bitIf returns bit if ok, else -1: a member's number for object, or
// that it could not be read.
func bitIf(bit int, ok bool) int {
	if !ok {
		return -1
	}
	return bit
}
