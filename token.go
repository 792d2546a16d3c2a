package deconflict

import (
	"time"
)

// Role says what the holder of a token may do (contract section 2.3).
type Role string

// The roles.
const (
	RoleOperator Role = "operator"
	RoleLiaison  Role = "liaison"
	RoleHead     Role = "head"
	RoleObserver Role = "observer"
	RoleAdmin    Role = "admin"
)

// RoleSystem is the actor's role on events the mechanism raises by itself
// (escalations by the timer, webhook deliveries). No token has it.
const RoleSystem Role = "system"

// Roles lists every role a token may have, in the order of the contract.
var Roles = []Role{RoleOperator, RoleLiaison, RoleHead, RoleObserver, RoleAdmin}

// Valid reports whether r is one of the roles.
func (r Role) Valid() bool {
	for _, v := range Roles {
		if r == v {
			return true
		}
	}
	return false
}

// Token is a bearer credential. Only the SHA-256 hash of the secret is
// kept; the secret itself is shown once, when the token is issued.
type Token struct {
	ID        string     `json:"id"`
	Hash      []byte     `json:"-"`
	Role      Role       `json:"role"`
	Party     string     `json:"party,omitempty"`
	Label     string     `json:"label,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at"`
}

// Validate checks the role and its party: admin tokens belong to no party,
// every other role needs one.
func (t *Token) Validate() error {
	if !t.Role.Valid() {
		return FieldErrorf(EInvalid, "role", "unknown role %q (want operator, liaison, head, observer or admin)", t.Role)
	}
	if t.Role == RoleAdmin && t.Party != "" {
		return FieldErrorf(EInvalid, "party", "an admin token belongs to no party")
	}
	if t.Role != RoleAdmin && t.Party == "" {
		return FieldErrorf(EInvalid, "party", "a %s token needs a party", t.Role)
	}
	if len(t.Label) > 200 {
		return FieldErrorf(EInvalid, "label", "label is longer than 200 bytes")
	}
	return nil
}

// Actor is who does something: the party (empty for admins) and the role.
type Actor struct {
	Party string `json:"party"`
	Role  Role   `json:"role"`
	// TokenID identifies the credential used. It is not shown to other
	// parties.
	TokenID string `json:"-"`
}

// Is reports whether the actor has one of the roles.
func (a Actor) Is(roles ...Role) bool {
	for _, r := range roles {
		if a.Role == r {
			return true
		}
	}
	return false
}

// SeesAll reports whether the actor reads the whole shared picture —
// every operation as other parties see it, every conflict — rather than
// its own party's part of it: observers and admins.
func (a Actor) SeesAll() bool { return a.Role == RoleObserver || a.Role == RoleAdmin }

// SeesAllTraffic reports whether the actor also reads what passes between
// other parties: their hotline messages, receipts, escalations below level
// 2 and webhook deliveries. Only the admin does, who runs the mechanism
// and is of no party; an observer belongs to a party, and a party sees
// only the traffic it sends or receives.
func (a Actor) SeesAllTraffic() bool { return a.Role == RoleAdmin }
