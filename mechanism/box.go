package mechanism

import (
	"slices"

	dc "github.com/deconflict/deconflict"
)

// maxBoxCandidates is the most operations a list by box narrows itself
// to by ID; a box with more candidates is listed by reading operations in
// order until the page is full, which such a box fills soon.
const maxBoxCandidates = 10_000

// boxCandidates returns the IDs of the live operations whose footprint
// the index says may meet box, and the event seq up to which the index
// reflects the store, when a list of operations in states by box can be
// narrowed to them (ok). Without them every operation that passed the
// other filters would be read and parsed, all the live ones for a small
// box; with them, only the candidates are. Operations changed
// after since must be added to them, since the index may not hold their
// latest volumes; the exact test (Match) still decides each one.
func (m *Mechanism) boxCandidates(box *BBox, states []dc.State) (ids []string, since int64, ok bool) {
	if box == nil || len(states) == 0 || slices.ContainsFunc(states, func(s dc.State) bool { return !s.Live() }) {
		return nil, 0, false // the index holds live operations only
	}
	since = m.writer.replica.seen.Load() // before the index is read: it reflects at least this
	ids = m.writer.index.Load().AppendMeetingRect([]string{}, box.rect())
	if len(ids) > maxBoxCandidates {
		return nil, 0, false
	}
	return ids, since, true
}
