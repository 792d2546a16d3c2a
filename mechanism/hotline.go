package mechanism

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	dc "github.com/deconflict/deconflict"
)

// Hotline is the part of the mechanism that carries messages between
// parties' liaisons and heads: sending a message or a line check, its
// acknowledgement by each addressee, and the list a party may read. It is
// a view over the same Mechanism, kept as its own type so that surface can
// be read alone.
type Hotline struct{ m *Mechanism }

// Hotline returns the hotline view of m.
func (m *Mechanism) Hotline() Hotline { return Hotline{m: m} }

// MaxMessageLen is the longest hotline message, in characters.
const MaxMessageLen = 10_000

// Outgoing is a hotline message to send (POST /v1/hotline/messages).
type Outgoing struct {
	To      []string    `json:"to"`
	Text    string      `json:"text"`
	Urgency string      `json:"urgency"`
	Subject *dc.Subject `json:"subject"`
}

// HotlineEventData is the body of hotline.* and line.check events.
type HotlineEventData struct {
	Message *dc.Message `json:"message"`
}

func mayTalk(a dc.Actor) error {
	if !a.Is(dc.RoleLiaison, dc.RoleHead) || a.Party == "" {
		return dc.Errorf(dc.EPermission, "only liaisons and heads use the hotline")
	}
	return nil
}

// SendMessage sends a hotline message from the actor's party. Each
// addressee must acknowledge it, or it escalates.
func (h Hotline) SendMessage(ctx context.Context, a dc.Actor, out Outgoing) (*dc.Message, error) {
	m := h.m
	if err := mayTalk(a); err != nil {
		return nil, err
	}
	if err := m.authorHere(a); err != nil {
		return nil, err
	}
	if strings.TrimSpace(out.Text) == "" {
		return nil, dc.FieldErrorf(dc.EInvalid, "text", "text is required")
	}
	if utf8.RuneCountInString(out.Text) > MaxMessageLen {
		return nil, dc.FieldErrorf(dc.EInvalid, "text", "text is longer than %d characters", MaxMessageLen)
	}
	switch out.Urgency {
	case "":
		out.Urgency = dc.UrgencyRoutine
	case dc.UrgencyRoutine, dc.UrgencyUrgent:
	default:
		return nil, dc.FieldErrorf(dc.EInvalid, "urgency", "urgency must be routine or urgent, not %q", out.Urgency)
	}
	if len(out.To) == 0 {
		return nil, dc.FieldErrorf(dc.EInvalid, "to", "to needs at least one party")
	}
	if out.Subject != nil && out.Subject.Kind != dc.SubjectOperation && out.Subject.Kind != dc.SubjectConflict {
		return nil, dc.FieldErrorf(dc.EInvalid, "subject.kind", "subject kind must be operation or conflict")
	}
	msg := &dc.Message{ID: newID(), Kind: dc.KindMessage, From: a, Text: out.Text, Urgency: out.Urgency, Subject: out.Subject}
	return msg, m.send(ctx, a, msg, out.To)
}

// LineCheck sends a line check from the actor's party to every other
// party; each must acknowledge it like a message.
func (h Hotline) LineCheck(ctx context.Context, a dc.Actor) (*dc.Message, error) {
	m := h.m
	if err := mayTalk(a); err != nil {
		return nil, err
	}
	if err := m.authorHere(a); err != nil {
		return nil, err
	}
	msg := &dc.Message{ID: newID(), Kind: dc.KindLineCheck, From: a, Urgency: dc.UrgencyRoutine,
		Text: "Line check: please acknowledge."}
	return msg, m.send(ctx, a, msg, nil)
}

// send stores a message to the parties (every other party if to is nil).
func (m *Mechanism) send(ctx context.Context, a dc.Actor, msg *dc.Message, to []string) error {
	err := m.store.Update(ctx, func(tx dc.Tx) error {
		parties, err := tx.Parties(ctx)
		if err != nil {
			return err
		}
		known := map[string]bool{}
		for _, p := range parties {
			known[p.ID] = true
			if to == nil && p.ID != a.Party {
				msg.To = append(msg.To, p.ID)
			}
		}
		if to != nil {
			seen := map[string]bool{}
			msg.To = nil
			for i, p := range to {
				switch {
				case !known[p]:
					return dc.FieldErrorf(dc.EInvalid, fmt.Sprintf("to[%d]", i), "no party %q", p)
				case p == a.Party:
					return dc.FieldErrorf(dc.EInvalid, fmt.Sprintf("to[%d]", i), "a party does not send hotline messages to itself")
				case !seen[p]:
					seen[p] = true
					msg.To = append(msg.To, p)
				}
			}
		}
		if len(msg.To) == 0 {
			return dc.FieldErrorf(dc.EInvalid, "to", "there is no other party to send to")
		}
		sort.Strings(msg.To)
		if err := m.checkSubject(ctx, tx, a, msg.Subject); err != nil {
			return err
		}
		now := m.Now()
		msg.SentAt = now
		msg.Acknowledged = map[string]*time.Time{}
		for _, p := range msg.To {
			msg.Acknowledged[p] = nil
		}
		if err := tx.PutMessage(ctx, msg); err != nil {
			return err
		}
		typ := dc.EventHotlineMessage
		if msg.Kind == dc.KindLineCheck {
			typ = dc.EventLineCheck
		}
		subject := dc.Subject{Kind: dc.SubjectMessage, ID: msg.ID}
		if err := m.appendEvent(ctx, tx, &dc.Event{
			Type: typ, Time: now, Actor: a, Subject: &subject, Audience: append([]string{a.Party}, msg.To...),
		}, HotlineEventData{Message: msg}); err != nil {
			return err
		}
		st, err := tx.Settings(ctx)
		if err != nil {
			return err
		}
		for _, p := range msg.To {
			if _, remote := m.Federation().RemoteParty(p); remote || !m.givesReceipts(p) {
				continue // owed, and escalated, on its own node; or never
			}
			if err := m.owe(ctx, tx, subject, 0, p, now, st, true); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		m.notify()
	}
	return err
}

// checkSubject checks that a message's subject exists and that the sender
// may see it.
func (m *Mechanism) checkSubject(ctx context.Context, tx dc.Tx, a dc.Actor, s *dc.Subject) error {
	if s == nil {
		return nil
	}
	var err error
	switch s.Kind {
	case dc.SubjectOperation:
		_, err = tx.Operation(ctx, s.ID)
	case dc.SubjectConflict:
		var c *dc.Conflict
		if c, err = tx.Conflict(ctx, s.ID); err == nil && !c.Involves(a.Party) {
			err = dc.Errorf(dc.ENotFound, "no conflict %s", s.ID)
		}
	}
	if dc.ErrorCode(err) == dc.ENotFound {
		return dc.FieldErrorf(dc.EInvalid, "subject.id", "no %s %s", s.Kind, s.ID)
	}
	return err
}

// AckMessage records that the actor's party has read a message or line
// check addressed to it.
func (h Hotline) AckMessage(ctx context.Context, a dc.Actor, id string) (*dc.Message, error) {
	m := h.m
	if err := mayTalk(a); err != nil {
		return nil, err
	}
	if err := m.authorHere(a); err != nil {
		return nil, err
	}
	var msg *dc.Message
	err := m.store.Update(ctx, func(tx dc.Tx) error {
		var err error
		msg, err = tx.Message(ctx, id)
		if dc.ErrorCode(err) == dc.ENotFound || (err == nil && msg.From.Party != a.Party && !msg.Addressed(a.Party)) {
			return dc.Errorf(dc.ENotFound, "no message %s", id)
		} else if err != nil {
			return err
		}
		if !msg.Addressed(a.Party) {
			return dc.Errorf(dc.EPermission, "only an addressee acknowledges a message")
		}
		if msg.Acknowledged[a.Party] != nil {
			return nil
		}
		now := m.Now()
		msg.Acknowledged[a.Party] = &now
		if err := tx.PutMessage(ctx, msg); err != nil {
			return err
		}
		subject := dc.Subject{Kind: dc.SubjectMessage, ID: msg.ID}
		if err := m.discharge(ctx, tx, a, subject, 0, a.Party, now); err != nil {
			return err
		}
		return m.appendEvent(ctx, tx, &dc.Event{
			Type: dc.EventHotlineAcked, Time: now, Actor: a, Subject: &subject,
			Audience: append([]string{msg.From.Party}, msg.To...),
		}, HotlineEventData{Message: msg})
	})
	if err != nil {
		return nil, err
	}
	m.notify()
	return msg, nil
}

// Messages lists the hotline messages sent by or to the actor's party (all
// of them for admins).
func (h Hotline) Messages(ctx context.Context, a dc.Actor, f dc.MessageFilter) ([]*dc.Message, string, error) {
	m := h.m
	f.Party = ""
	if !a.SeesAllTraffic() {
		f.Party = a.Party
	}
	var msgs []*dc.Message
	var next string
	err := m.store.View(ctx, func(tx dc.Tx) (err error) {
		msgs, next, err = tx.Messages(ctx, f)
		return err
	})
	return msgs, next, err
}
