package deconflict

import "time"

// ConflictStatus is open, resolved or waived.
type ConflictStatus string

// The statuses of a conflict.
const (
	ConflictOpen     ConflictStatus = "open"
	ConflictResolved ConflictStatus = "resolved"
	ConflictWaived   ConflictStatus = "waived"
)

// Separation is the gap between two volumes along each axis; negative
// values overlap. HorizontalM is the surface distance between footprints,
// zero when they intersect.
type Separation struct {
	HorizontalM float64 `json:"horizontal_m"`
	VerticalM   float64 `json:"vertical_m"`
	TimeS       float64 `json:"time_s"`
}

// Conflict is the one record of a pair of operations of different parties
// that came closer than the separation minima.
type Conflict struct {
	ID           string                `json:"id"`
	Status       ConflictStatus        `json:"status"`
	Operations   [2]string             `json:"operations"`
	Parties      [2]string             `json:"parties"`
	DetectedAt   time.Time             `json:"detected_at"`
	ClosedAt     *time.Time            `json:"closed_at"`
	Separation   Separation            `json:"separation"`
	Acknowledged map[string]*time.Time `json:"acknowledged"`
	Waived       map[string]*time.Time `json:"waived"`
	UpdatedAt    time.Time             `json:"updated_at"`
	// FoundLate is set on a conflict a federation node found only when a
	// peer's version reached it late, after a cut link: the time each
	// party declared its operation's conflicting version (on its own
	// node). Such a conflict is escalated to the heads at once.
	FoundLate map[string]time.Time `json:"found_late,omitempty"`
}

// Involves reports whether party is one of the two parties.
func (c *Conflict) Involves(party string) bool {
	return party != "" && (c.Parties[0] == party || c.Parties[1] == party)
}

// Other returns the operation of the pair that is not opID.
func (c *Conflict) Other(opID string) string {
	if c.Operations[0] == opID {
		return c.Operations[1]
	}
	return c.Operations[0]
}

// ConflictFilter selects conflicts in a list.
type ConflictFilter struct {
	Party    string // involving this party; empty for all
	Statuses []ConflictStatus
	Limit    int
	After    string
	// MaxBytes, if positive, ends the page early after the first item
	// that brings the size of the page's stored documents past it (so a
	// page holds at least one item); the cursor then points after that
	// item. See MaxPageBytes.
	MaxBytes int
}
