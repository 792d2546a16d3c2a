package storeval

import (
	"strconv"
	"strings"
	"time"

	"github.com/deconflict/deconflict"
)

// A page of conflicts decodes up to 10,000 stored documents, and decoding
// them was most of its time even with decodeDoc. A document as the SQLite
// store writes it (encoding/json's compact form of a conflict, fields in
// their order, text without escapes) is read by scanConflictDoc straight
// into the conflict, as encoding/json would decode it (a fuzz test holds
// it to that); any other document — PostgreSQL's jsonb, an escape, null
// where a time is, anything unexpected — is left to decodeDoc.

// scanConflictDoc decodes a conflict document of the compact form; ok is
// false for any other document.
func scanConflictDoc(doc string) (_ *deconflict.Conflict, ok bool) {
	s := docScanner{s: doc}
	var c deconflict.Conflict
	var status string
	ok = s.lit(`{"id":`) && s.str(&c.ID) &&
		s.lit(`,"status":`) && s.str(&status) &&
		s.lit(`,"operations":[`) && s.str(&c.Operations[0]) && s.lit(",") && s.str(&c.Operations[1]) &&
		s.lit(`],"parties":[`) && s.str(&c.Parties[0]) && s.lit(",") && s.str(&c.Parties[1]) &&
		s.lit(`],"detected_at":`) && s.time(&c.DetectedAt) &&
		s.lit(`,"closed_at":`) && s.timePtr(&c.ClosedAt) &&
		s.lit(`,"separation":{"horizontal_m":`) && s.float(&c.Separation.HorizontalM) &&
		s.lit(`,"vertical_m":`) && s.float(&c.Separation.VerticalM) &&
		s.lit(`,"time_s":`) && s.float(&c.Separation.TimeS) &&
		s.lit(`},"acknowledged":`) && s.timeMap(&c.Acknowledged) &&
		s.lit(`,"waived":`) && s.timeMap(&c.Waived) &&
		s.lit(`,"updated_at":`) && s.time(&c.UpdatedAt)
	if !ok {
		return nil, false
	}
	if s.lit(`,"found_late":{`) {
		c.FoundLate = map[string]time.Time{}
		for !s.lit("}") {
			if len(c.FoundLate) > 0 && !s.lit(",") {
				return nil, false
			}
			var k string
			var t time.Time
			if !s.str(&k) || !s.lit(":") || !s.time(&t) {
				return nil, false
			}
			c.FoundLate[k] = t
		}
	}
	if !s.lit("}") || s.i != len(s.s) {
		return nil, false
	}
	c.Status = deconflict.ConflictStatus(status)
	return &c, true
}

// docScanner reads a document of a fixed compact form.
type docScanner struct {
	s string
	i int
}

// lit reads lit, if it is next.
func (s *docScanner) lit(lit string) bool {
	if !strings.HasPrefix(s.s[s.i:], lit) {
		return false
	}
	s.i += len(lit)
	return true
}

// quoted reads a string of printable ASCII without escapes and returns
// it with its quotes.
func (s *docScanner) quoted() (string, bool) {
	if s.i >= len(s.s) || s.s[s.i] != '"' {
		return "", false
	}
	for j := s.i + 1; j < len(s.s); j++ {
		switch c := s.s[j]; {
		case c == '"':
			q := s.s[s.i : j+1]
			s.i = j + 1
			return q, true
		case c < 0x20 || c > 0x7e || c == '\\':
			return "", false
		}
	}
	return "", false
}

// str reads a string into *dst.
func (s *docScanner) str(dst *string) bool {
	q, ok := s.quoted()
	if ok {
		*dst = q[1 : len(q)-1]
	}
	return ok
}

// time reads a time as encoding/json does: its UnmarshalJSON on the
// quoted text.
func (s *docScanner) time(dst *time.Time) bool {
	q, ok := s.quoted()
	return ok && dst.UnmarshalJSON([]byte(q)) == nil
}

// timePtr reads null or a time.
func (s *docScanner) timePtr(dst **time.Time) bool {
	if s.lit("null") {
		*dst = nil
		return true
	}
	t := new(time.Time)
	if !s.time(t) {
		return false
	}
	*dst = t
	return true
}

// float reads a number as encoding/json reads one into a float64.
func (s *docScanner) float(dst *float64) bool {
	j := s.i
	for j < len(s.s) && strings.IndexByte("+-.0123456789eE", s.s[j]) >= 0 {
		j++
	}
	if j == s.i || !validNumber(s.s[s.i:j]) {
		return false
	}
	f, err := strconv.ParseFloat(s.s[s.i:j], 64)
	if err != nil {
		return false
	}
	*dst, s.i = f, j
	return true
}

// validNumber reports whether n is a number in JSON's grammar.
func validNumber(n string) bool {
	i := 0
	if i < len(n) && n[i] == '-' {
		i++
	}
	digits := func() bool {
		j := i
		for i < len(n) && n[i] >= '0' && n[i] <= '9' {
			i++
		}
		return i > j
	}
	switch {
	case i < len(n) && n[i] == '0':
		i++
	case !digits():
		return false
	}
	if i < len(n) && n[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(n) && (n[i] == 'e' || n[i] == 'E') {
		i++
		if i < len(n) && (n[i] == '+' || n[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	return i == len(n)
}

// timeMap reads null or an object of times or nulls.
func (s *docScanner) timeMap(dst *map[string]*time.Time) bool {
	if s.lit("null") {
		*dst = nil
		return true
	}
	if !s.lit("{") {
		return false
	}
	m := map[string]*time.Time{}
	for !s.lit("}") {
		if len(m) > 0 && !s.lit(",") {
			return false
		}
		var k string
		var t *time.Time
		if !s.str(&k) || !s.lit(":") || !s.timePtr(&t) {
			return false
		}
		if _, dup := m[k]; dup {
			return false
		}
		m[k] = t
	}
	*dst = m
	return true
}
