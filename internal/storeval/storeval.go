// Package storeval holds what the two SQL stores (sqlite, postgres) do
// alike: how they write values to rows (times, list cursors, page sizes),
// read rows back (the column lists and scanners), build the conditions of
// list pages and the lookups by key in a store's dialect, and apply their
// schema migrations. Each store keeps only what differs: its driver, its
// schema, how it serialises writers, and the statements it tunes for its
// engine. Keeping the rest in one place keeps the two stores' answers
// identical, as the conformance suite requires.
package storeval

import (
	"encoding/base64"
	"strconv"
	"time"

	"github.com/deconflict/deconflict"
)

// DefaultLimit is the page size of a list whose filter leaves Limit zero.
const DefaultLimit = 1000

// PageSize returns the number of items a page of a list holds.
func PageSize(limit int) int {
	if limit <= 0 {
		return DefaultLimit
	}
	return limit
}

// Times are stored as microseconds since the Unix epoch and read back in
// UTC, so a time keeps its instant to the microsecond but not its zone.

// Micros returns t as stored.
func Micros(t time.Time) int64 { return t.UnixMicro() }

// FromMicros returns the time stored as v.
func FromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

// NormTime returns t as it reads back from a store.
func NormTime(t time.Time) time.Time { return FromMicros(Micros(t)) }

// NormTimePtr returns a copy of *t as it reads back, or nil.
func NormTimePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	n := NormTime(*t)
	return &n
}

// NormTimeMap returns a copy of m with its times as they read back.
func NormTimeMap(m map[string]*time.Time) map[string]*time.Time {
	if m == nil {
		return nil
	}
	n := make(map[string]*time.Time, len(m))
	for k, v := range m {
		n[k] = NormTimePtr(v)
	}
	return n
}

// Cursors are the seq of the last item of a page, in unpadded base64url so
// that callers treat them as opaque.

// EncodeCursor returns the cursor of the page after the item with seq.
func EncodeCursor(seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(seq, 10)))
}

// DecodeCursor returns the seq a cursor names; "" names the start. A
// cursor that is not one is an EInvalid error on field "after".
func DecodeCursor(c string) (int64, error) {
	if c == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err == nil {
		var seq int64
		if seq, err = strconv.ParseInt(string(b), 10, 64); err == nil && seq > 0 {
			return seq, nil
		}
	}
	return 0, deconflict.FieldErrorf(deconflict.EInvalid, "after", "invalid cursor %q", c)
}

// Row is a row being scanned: *sql.Rows, *sql.Row, pgx.Row.
type Row interface {
	Scan(dest ...any) error
}

// SizedRow scans a row and adds up the bytes of its text and binary
// columns, the size of what it holds, so that a page can end once it
// passes a size (deconflict.MaxPageBytes).
type SizedRow struct {
	Row
	Bytes int
}

// Scan scans the row into dest and counts the bytes scanned.
func (r *SizedRow) Scan(dest ...any) error {
	if err := r.Row.Scan(dest...); err != nil {
		return err
	}
	for _, d := range dest {
		switch p := d.(type) {
		case *string:
			r.Bytes += len(*p)
		case *[]byte:
			r.Bytes += len(*p)
		}
	}
	return nil
}

// Full reports whether a page of size bytes has passed maxBytes (0 for
// no bound), so that it takes no further item.
func Full(size, maxBytes int) bool { return maxBytes > 0 && size > maxBytes }
