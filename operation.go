package deconflict

import (
	"time"

	"github.com/google/uuid"
)

// State is where an operation stands in its lifecycle:
// planned → active → ended; planned or active → cancelled.
type State string

// The states of an operation.
const (
	StatePlanned   State = "planned"
	StateActive    State = "active"
	StateEnded     State = "ended"
	StateCancelled State = "cancelled"
)

// Valid reports whether s is one of the four states.
func (s State) Valid() bool {
	switch s {
	case StatePlanned, StateActive, StateEnded, StateCancelled:
		return true
	}
	return false
}

// Live reports whether an operation in state s takes part in conflict
// detection (planned or active).
func (s State) Live() bool { return s == StatePlanned || s == StateActive }

// Final reports whether no change can leave s.
func (s State) Final() bool { return s == StateEnded || s == StateCancelled }

// CanBecome reports whether the lifecycle allows the change from s to t.
// Staying in a live state is allowed; a final state allows nothing.
func (s State) CanBecome(t State) bool {
	switch s {
	case StatePlanned:
		return t == StatePlanned || t == StateActive || t == StateCancelled
	case StateActive:
		return t == StateActive || t == StateEnded || t == StateCancelled
	}
	return false
}

// Limits on what one operation may carry.
const (
	MaxVolumes     = 100
	MaxVertices    = 10_000
	MaxCallsignLen = 32
	MaxNotesLen    = 10_000
)

// Operation is a planned or running use of airspace by one party,
// declared as one or more 4D volumes.
type Operation struct {
	ID            string     `json:"id"`
	Party         string     `json:"party"`
	Version       int        `json:"version"`
	State         State      `json:"state"`
	Priority      int        `json:"priority"`
	Callsign      *string    `json:"callsign"`
	ShareCallsign bool       `json:"share_callsign"`
	Notes         *string    `json:"notes,omitempty"`
	Volumes       []Volume4D `json:"volumes"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`

	// Start and End bound the times of all volumes; the mechanism sets
	// them so that stores can filter by time without parsing geometry.
	Start time.Time `json:"-"`
	End   time.Time `json:"-"`
	// Rev is the sequence number of the event that last changed the
	// operation. Stores keep it so that a mechanism can catch up with
	// changes made by another process.
	Rev int64 `json:"-"`
}

// ValidID reports whether id is a UUID in its canonical text form.
func ValidID(id string) bool {
	u, err := uuid.Parse(id)
	return err == nil && u.String() == id
}

// SharedView returns the operation as a party other than its own sees it:
// without notes, and without the callsign unless it is shared.
func (op *Operation) SharedView() *Operation {
	other := *op
	other.Notes = nil
	if !op.ShareCallsign {
		other.Callsign = nil
	}
	return &other
}

// ViewFor returns the operation as the actor may see it: notes only for
// the operators, liaisons and heads of its party; the callsign, unless
// shared, only for its party (its observers too).
func (op *Operation) ViewFor(a Actor) *Operation {
	switch {
	case a.Party != op.Party:
		return op.SharedView()
	case a.Is(RoleOperator, RoleLiaison, RoleHead):
		return op
	}
	own := *op
	own.Notes = nil
	return &own
}

// OperationFilter selects operations in a list. Zero fields match all.
type OperationFilter struct {
	Party  string
	States []State
	// Start and End select operations whose time span overlaps [Start, End].
	Start, End time.Time
	Limit      int
	After      string // cursor
	// IDs, if not nil, keeps only the operations with these IDs (in any
	// order; an empty, non-nil list keeps none). The mechanism narrows a
	// list to the live operations its index places in a box this way.
	IDs []string
	// Match, if set, is called on each operation that passes the other
	// filters; only those for which it returns true are listed.
	Match func(*Operation) bool
	// MaxBytes, if positive, ends the page early after the first item
	// that brings the size of the page's stored documents past it (so a
	// page holds at least one item); the cursor then points after that
	// item. See MaxPageBytes.
	MaxBytes int
}
