package deconflict

import (
	"regexp"
	"time"
)

// Party is one of the forces, agencies or operators that share the
// mechanism. Parties are peers.
type Party struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	// Keys are the party's own Ed25519 public keys (signed-note verifier
	// strings) with which it may sign its acknowledgements.
	Keys []string `json:"keys,omitempty"`
}

var partyIDPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

// Validate reports whether the party's ID and name are acceptable.
func (p *Party) Validate() error {
	if !partyIDPattern.MatchString(p.ID) {
		return FieldErrorf(EInvalid, "id", "party id %q must match [a-z][a-z0-9-]{0,31}", p.ID)
	}
	if len(p.Name) > 200 {
		return FieldErrorf(EInvalid, "name", "party name is longer than 200 bytes")
	}
	return nil
}
