package http

import (
	"maps"
	"slices"
	"time"

	dc "github.com/deconflict/deconflict"
)

// A page of conflicts (GET /v1/conflicts) holds up to 10,000 of them, and
// encoding/json took a fifth of such a page's time: reflection, and a sort
// of each conflict's maps. appendConflict writes a conflict by hand, byte
// for byte as encoding/json writes it without HTML escaping (a test holds
// it to that, and fails when dc.Conflict gains a field), for conflicts
// whose text is plain: a conflict with any other text, or a separation
// that is not a finite number, is left to encoding/json.

// appendConflict appends c as encoding/json encodes it (without HTML
// escaping and without the newline its Encoder adds); ok is false, and b
// unchanged, if c is not plain.
func appendConflict(b []byte, c *dc.Conflict) (_ []byte, ok bool) {
	start := len(b)
	fail := func() ([]byte, bool) { return b[:start], false }
	sep := c.Separation
	if !finite(sep.HorizontalM) || !finite(sep.VerticalM) || !finite(sep.TimeS) {
		return fail()
	}
	if b, ok = appendPlainString(append(b, `{"id":`...), c.ID); !ok {
		return fail()
	}
	if b, ok = appendPlainString(append(b, `,"status":`...), string(c.Status)); !ok {
		return fail()
	}
	for i, name := range []string{`,"operations":[`, `,"parties":[`} {
		pair := c.Operations
		if i == 1 {
			pair = c.Parties
		}
		b = append(b, name...)
		if b, ok = appendPlainString(b, pair[0]); !ok {
			return fail()
		}
		if b, ok = appendPlainString(append(b, ','), pair[1]); !ok {
			return fail()
		}
		b = append(b, ']')
	}
	if b, ok = appendTime(append(b, `,"detected_at":`...), &c.DetectedAt); !ok {
		return fail()
	}
	if b, ok = appendTime(append(b, `,"closed_at":`...), c.ClosedAt); !ok {
		return fail()
	}
	b = append(b, `,"separation":{"horizontal_m":`...)
	b = appendJSONFloat(b, sep.HorizontalM)
	b = append(b, `,"vertical_m":`...)
	b = appendJSONFloat(b, sep.VerticalM)
	b = append(b, `,"time_s":`...)
	b = appendJSONFloat(b, sep.TimeS)
	b = append(b, '}')
	if b, ok = appendTimeMap(append(b, `,"acknowledged":`...), c.Acknowledged); !ok {
		return fail()
	}
	if b, ok = appendTimeMap(append(b, `,"waived":`...), c.Waived); !ok {
		return fail()
	}
	if b, ok = appendTime(append(b, `,"updated_at":`...), &c.UpdatedAt); !ok {
		return fail()
	}
	if len(c.FoundLate) > 0 {
		b = append(b, `,"found_late":{`...)
		var keys [4]string
		for i, k := range sortedKeys(keys[:0], c.FoundLate) {
			if i > 0 {
				b = append(b, ',')
			}
			t := c.FoundLate[k]
			if b, ok = appendPlainString(b, k); !ok {
				return fail()
			}
			if b, ok = appendTime(append(b, ':'), &t); !ok {
				return fail()
			}
		}
		b = append(b, '}')
	}
	return append(b, '}'), true
}

// appendPlainString appends s quoted, if it is plain: printable ASCII
// other than '"' and '\', which encoding/json writes as they are.
func appendPlainString(b []byte, s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return b, false
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), true
}

// appendTime appends *t as encoding/json writes a time (RFC 3339 with
// nanoseconds, quoted; what time.Time.MarshalJSON writes), or null for
// nil; ok is false for a time it cannot write.
func appendTime(b []byte, t *time.Time) ([]byte, bool) {
	if t == nil {
		return append(b, "null"...), true
	}
	out, err := t.AppendText(append(b, '"'))
	if err != nil {
		return b, false
	}
	return append(out, '"'), true
}

// appendTimeMap appends m as encoding/json writes it: null if nil, else
// its members sorted by name.
func appendTimeMap(b []byte, m map[string]*time.Time) ([]byte, bool) {
	if m == nil {
		return append(b, "null"...), true
	}
	b = append(b, '{')
	var ok bool
	var keys [4]string
	for i, k := range sortedKeys(keys[:0], m) {
		if i > 0 {
			b = append(b, ',')
		}
		if b, ok = appendPlainString(b, k); !ok {
			return b, false
		}
		if b, ok = appendTime(append(b, ':'), m[k]); !ok {
			return b, false
		}
	}
	return append(b, '}'), true
}

// sortedKeys appends the keys of m to keys, sorted (a conflict's maps
// have two, which fit in the caller's array).
func sortedKeys[V any](keys []string, m map[string]V) []string {
	keys = slices.AppendSeq(keys, maps.Keys(m))
	slices.Sort(keys)
	return keys
}
