package mechanism

import (
	"math"
	"slices"
	"time"

	dc "github.com/deconflict/deconflict"
)

// maxBoxCandidates is the most operations a list by box narrows itself
// to by ID; a box with more candidates is listed by reading operations in
// order until the page is full, which such a box fills soon.
const maxBoxCandidates = 10_000

// boxCandidates returns the IDs of the live operations whose footprint
// the index says may meet box and whose window reaches into [start, end]
// (a zero time: no bound), and the event seq up to which the index
// reflects the store, when a list of operations in states by box can be
// narrowed to them (ok). Without them every operation that passed the
// other filters would be read and parsed, all the live ones for a small
// box; with them, only the candidates are. Operations changed
// after since must be added to them, since the index may not hold their
// latest volumes; the exact test (Match) still decides each one.
func (m *Mechanism) boxCandidates(box *BBox, states []dc.State, start, end time.Time) (ids []string, since int64, ok bool) {
	if box == nil || len(states) == 0 || slices.ContainsFunc(states, func(s dc.State) bool { return !s.Live() }) {
		return nil, 0, false // the index holds live operations only
	}
	since = m.writer.replica.seen.Load() // before the index is read: it reflects at least this
	t0, t1 := math.Inf(-1), math.Inf(1)
	if !start.IsZero() {
		t0 = unixSeconds(start)
	}
	if !end.IsZero() {
		t1 = unixSeconds(end)
	}
	ids = m.writer.index.Load().AppendMeetingRectDuring([]string{}, box.rect(), t0, t1)
	if len(ids) > maxBoxCandidates {
		return nil, 0, false
	}
	return ids, since, true
}

// unixSeconds is t in seconds since the Unix epoch, as the index keeps times.
func unixSeconds(t time.Time) float64 {
	return float64(t.Unix()) + float64(t.Nanosecond())*1e-9
}
