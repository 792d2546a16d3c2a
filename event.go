package deconflict

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
)

// Event types (contract section 8).
const (
	EventOperationDeclared  = "operation.declared"
	EventOperationUpdated   = "operation.updated"
	EventOperationActivated = "operation.activated"
	EventOperationEnded     = "operation.ended"
	EventOperationCancelled = "operation.cancelled"
	EventOperationReceipt   = "operation.acknowledged"
	EventConflictOpened     = "conflict.opened"
	EventConflictAcked      = "conflict.acknowledged"
	EventConflictResolved   = "conflict.resolved"
	EventConflictWaived     = "conflict.waived"
	EventNoticeShort        = "notice.short"
	EventEscalationRaised   = "escalation.raised"
	EventEscalationCleared  = "escalation.cleared"
	EventHotlineMessage     = "hotline.message"
	EventHotlineAcked       = "hotline.acknowledged"
	EventLineCheck          = "line.check"
	EventSettingsChanged    = "settings.changed"
	EventPartyAdded         = "party.added"
	EventPartyKeyAdded      = "party.key_added"
	EventWebhookDelivered   = "webhook.delivered"
)

// Subject names what an event, a duty or a message is about.
type Subject struct {
	Kind string `json:"kind"` // one of the Subject* kinds
	ID   string `json:"id"`
}

// The kinds of Subject, as written on the wire and in the record.
const (
	SubjectOperation  = "operation"
	SubjectConflict   = "conflict"
	SubjectMessage    = "message" // a hotline message or line check
	SubjectParty      = "party"
	SubjectSettings   = "settings"
	SubjectEscalation = "escalation" // a duty, escalated or cleared
	SubjectEvent      = "event"      // an earlier event, such as the one a webhook delivered
)

// Event is one numbered change of the mechanism. It is written in the same
// transaction as the change it records.
type Event struct {
	Seq     int64     `json:"seq"`
	Type    string    `json:"type"`
	Time    time.Time `json:"time"`
	Actor   Actor     `json:"actor"`
	Subject *Subject  `json:"subject,omitempty"`
	// Audience lists the parties that may see the event; empty means
	// every party. Admins see every event, observers also every
	// conflict's (see VisibleTo).
	Audience []string `json:"-"`
	// Data is the body of the event as every member of the audience may
	// see it (never private fields).
	Data json.RawMessage `json:"data,omitempty"`
}

// VisibleTo reports whether the actor may see the event: one for every
// party or for its own; any event for the admin; and for an observer also
// every conflict's, since it sees every conflict (the shared picture), but
// not other parties' traffic (SeesAllTraffic).
func (e *Event) VisibleTo(a Actor) bool {
	if a.SeesAllTraffic() || len(e.Audience) == 0 {
		return true
	}
	if a.SeesAll() && strings.HasPrefix(e.Type, "conflict.") {
		return true
	}
	for _, p := range e.Audience {
		if p == a.Party {
			return true
		}
	}
	return false
}

// EventJSON encodes an event as the contract shows it: seq, type, time,
// actor and subject, with the fields of its body alongside them.
func EventJSON(e *Event) ([]byte, error) {
	head, err := json.Marshal(struct {
		Seq     int64    `json:"seq"`
		Type    string   `json:"type"`
		Time    any      `json:"time"`
		Actor   Actor    `json:"actor"`
		Subject *Subject `json:"subject,omitempty"`
	}{e.Seq, e.Type, e.Time, e.Actor, e.Subject})
	if err != nil {
		return nil, err
	}
	body := bytes.TrimSpace(e.Data)
	if len(body) < 2 || body[0] != '{' || bytes.Equal(body, []byte("{}")) {
		return head, nil
	}
	out := append(head[:len(head)-1:len(head)-1], ',')
	return append(out, body[1:]...), nil
}
