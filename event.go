package deconflict

import (
	"bytes"
	"encoding/json"
	"strconv"
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
func EventJSON(e *Event) ([]byte, error) { return AppendEventJSON(nil, e) }

// AppendEventJSON appends EventJSON(e) to b. A page of events holds up
// to 10,000 of them, so the head of an event whose text is plain
// (printable ASCII but for the quote, the backslash and < > &) is written by hand,
// byte for byte as encoding/json writes it; any other is left to
// encoding/json.
func AppendEventJSON(b []byte, e *Event) ([]byte, error) {
	start := len(b)
	b, ok := appendEventHead(b, e)
	if !ok {
		head, err := json.Marshal(struct {
			Seq     int64    `json:"seq"`
			Type    string   `json:"type"`
			Time    any      `json:"time"`
			Actor   Actor    `json:"actor"`
			Subject *Subject `json:"subject,omitempty"`
		}{e.Seq, e.Type, e.Time, e.Actor, e.Subject})
		if err != nil {
			return b[:start], err
		}
		b = append(b[:start], head...)
	}
	body := bytes.TrimSpace(e.Data)
	if len(body) < 2 || body[0] != '{' || bytes.Equal(body, []byte("{}")) {
		return b, nil
	}
	b = append(b[:len(b)-1], ',')
	return append(b, body[1:]...), nil
}

// appendEventHead appends {"seq":…,"type":…,"time":…,"actor":{…}(,"subject":{…})}
// as encoding/json writes it, if every text in it is plain.
func appendEventHead(b []byte, e *Event) ([]byte, bool) {
	start := len(b)
	b = strconv.AppendInt(append(b, `{"seq":`...), e.Seq, 10)
	ok := true
	b, ok = appendPlain(append(b, `,"type":`...), e.Type, ok)
	t, err := e.Time.AppendText(append(b, `,"time":"`...))
	if err != nil {
		return b[:start], false
	}
	b, ok = appendPlain(append(t, `","actor":{"party":`...), e.Actor.Party, ok)
	b, ok = appendPlain(append(b, `,"role":`...), string(e.Actor.Role), ok)
	b = append(b, '}')
	if e.Subject != nil {
		b, ok = appendPlain(append(b, `,"subject":{"kind":`...), e.Subject.Kind, ok)
		b, ok = appendPlain(append(b, `,"id":`...), e.Subject.ID, ok)
		b = append(b, '}')
	}
	if !ok {
		return b[:start], false
	}
	return append(b, '}'), true
}

// appendPlain appends s quoted and reports ok, if ok and s is plain text
// that encoding/json (which escapes '<', '>' and '&') writes as it is.
func appendPlain(b []byte, s string, ok bool) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return b, false
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), ok
}
