package deconflict

import (
	"strings"
	"time"
)

// Duty is one party's obligation to acknowledge something: a declaration
// (a version of an operation of another party), a conflict, or a hotline
// message or line check addressed to it. A duty not acknowledged within
// the acknowledgement timeout escalates: level 1 to the party's heads,
// then level 2 to every party's heads and the admins. An escalated duty is
// what GET /v1/escalations lists.
type Duty struct {
	ID      string  `json:"id"`
	Subject Subject `json:"subject"`
	// Version is the version of the operation to acknowledge (0 for other
	// subjects); a receipt for this version or a later one discharges it.
	Version int `json:"-"`
	// Party is the party that owes the duty; for a group duty, it is
	// GroupDuty followed by the parties the group stands for (see
	// GroupDutyParty, IsGroup and GroupParties).
	Party string `json:"party"`
	Level int    `json:"level"`
	// CreatedAt is when the duty arose; DueAt when it next escalates (nil
	// once it can escalate no further or is discharged).
	CreatedAt time.Time  `json:"-"`
	DueAt     *time.Time `json:"-"`
	AckedAt   *time.Time `json:"-"`
	RaisedAt  *time.Time `json:"raised_at"`
	ClearedAt *time.Time `json:"cleared_at"`
}

// GroupDuty begins the Party of a group duty: one duty that stands for the
// same duty of several parties, each of which has no duty of its own about
// the subject. A new operation's first version is owed a receipt by every
// other party; one group duty instead of a duty per party keeps the writes
// of a declaration from growing with the number of parties.
const GroupDuty = "*"

// GroupDutyParty returns the Party of a group duty standing for parties.
func GroupDutyParty(parties []string) string { return GroupDuty + strings.Join(parties, ",") }

// IsGroup reports whether d is a group duty.
func (d *Duty) IsGroup() bool { return strings.HasPrefix(d.Party, GroupDuty) }

// GroupParties returns the parties the group duty d stands for; none if d
// is not a group duty.
func (d *Duty) GroupParties() []string {
	rest, ok := strings.CutPrefix(d.Party, GroupDuty)
	if !ok {
		return nil
	}
	var out []string
	for _, p := range strings.Split(rest, ",") {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Escalation levels.
const (
	LevelNone  = 0 // not escalated
	LevelHeads = 1 // the party's heads
	LevelAll   = 2 // every party's heads and the admins
)

// DutyFilter selects duties.
type DutyFilter struct {
	Party     string   // owed by this party; empty for all
	Subject   *Subject // about this subject
	Escalated bool     // only those with Level ≥ 1
	Open      bool     // only those not acknowledged
	Limit     int
	After     string
}

// Urgency of a hotline message.
const (
	UrgencyRoutine = "routine"
	UrgencyUrgent  = "urgent"
)

// Message is a hotline message between parties, or a line check.
type Message struct {
	ID      string    `json:"id"`
	Kind    string    `json:"kind"` // "message" or "line_check"
	From    Actor     `json:"from"`
	To      []string  `json:"to"`
	Text    string    `json:"text"`
	Urgency string    `json:"urgency"`
	Subject *Subject  `json:"subject,omitempty"`
	SentAt  time.Time `json:"sent_at"`
	// Acknowledged maps each addressee to when it acknowledged (nil: not yet).
	Acknowledged map[string]*time.Time `json:"acknowledged"`
}

// Message kinds.
const (
	KindMessage   = "message"
	KindLineCheck = "line_check"
)

// Addressed reports whether party is among the message's addressees.
func (m *Message) Addressed(party string) bool {
	for _, p := range m.To {
		if p == party {
			return true
		}
	}
	return false
}

// MessageFilter selects hotline messages: those sent by or to Party (all
// for an empty Party).
type MessageFilter struct {
	Party string
	Limit int
	After string
	// MaxBytes, if positive, ends the page early after the first item
	// that brings the size of the page's stored documents past it (so a
	// page holds at least one item); the cursor then points after that
	// item. See MaxPageBytes.
	MaxBytes int
}

// Webhook is a party's subscription to the events it may see, delivered
// by HTTP POST following the Standard Webhooks convention.
type Webhook struct {
	Party  string   `json:"party"`
	Name   string   `json:"name"`
	URL    string   `json:"url"`
	Events []string `json:"events"`
	// Secret signs deliveries ("whsec_" and base64 of the key). It is
	// shown once, when the webhook is created.
	Secret    string    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Delivery  Delivery  `json:"delivery"`
}

// Delivery is the delivery state of a webhook: events are delivered in
// order, each until the receiver answers 2xx.
type Delivery struct {
	// DeliveredSeq is the last event seq handled (delivered or not for
	// this webhook).
	DeliveredSeq int64      `json:"delivered_seq"`
	Attempts     int        `json:"attempts"` // failed attempts of the event now being delivered
	LastAttempt  *time.Time `json:"last_attempt_at"`
	LastStatus   int        `json:"last_status,omitempty"`
	LastError    string     `json:"last_error,omitempty"`
	NextAttempt  *time.Time `json:"next_attempt_at"`
	FailingSince *time.Time `json:"failing_since"`
	Delivered    int64      `json:"delivered"` // events delivered so far
}
