package mechanism

import (
	"context"
	"time"
	"unicode/utf8"

	dc "github.com/deconflict/deconflict"
)

// ApplyPeerMessage applies a hotline entry of a peer party's, from the
// entry origin of the peer's log: a message or line check it sent (typ
// hotline.message or line.check), kept here with the duties of this
// node's addressees, which escalate here; or its acknowledgement of a
// message (hotline.acknowledged), at the time at it gave it. A message
// this node holds already, or an acknowledgement it has, changes
// nothing. mark runs in the same transaction.
func (f Federation) ApplyPeerMessage(ctx context.Context, origin PeerOrigin, a dc.Actor, typ string, msg *dc.Message, at time.Time, mark func(dc.Tx) error) error {
	m := f.m
	if key, ok := f.RemoteParty(a.Party); !ok || key != origin.Node {
		return dc.Errorf(dc.EForbidden, "party %s is not hosted by the node the entry came from", a.Party)
	}
	if !dc.ValidID(msg.ID) || utf8.RuneCountInString(msg.Text) > MaxMessageLen {
		return dc.Errorf(dc.EInvalid, "hotline message %q: bad id or text", msg.ID)
	}
	at = at.UTC().Truncate(time.Microsecond)
	err := m.store.Update(ctx, func(tx dc.Tx) error {
		if err := mark(tx); err != nil {
			return err
		}
		cur, err := tx.Message(ctx, msg.ID)
		if err != nil && dc.ErrorCode(err) != dc.ENotFound {
			return err
		}
		subject := dc.Subject{Kind: dc.SubjectMessage, ID: msg.ID}
		switch typ {
		case dc.EventHotlineMessage, dc.EventLineCheck:
			if msg.From.Party != a.Party {
				return dc.Errorf(dc.EInvalid, "hotline message %s from party %s logged by party %s", msg.ID, msg.From.Party, a.Party)
			}
			if cur != nil && cur.From.Party != a.Party {
				// Another party's message holds the ID: refused (and so
				// alerted), not taken for this one.
				return dc.Errorf(dc.EForbidden, "hotline message %s is party %s's here", msg.ID, cur.From.Party)
			}
			if cur != nil {
				return nil
			}
			kept := *msg
			kept.Acknowledged = map[string]*time.Time{}
			for _, p := range kept.To {
				kept.Acknowledged[p] = nil
			}
			if err := tx.PutMessage(ctx, &kept); err != nil {
				return err
			}
			if err := m.appendPeerMessageEvent(ctx, tx, typ, a, &kept, at, &origin); err != nil {
				return err
			}
			st, err := tx.Settings(ctx)
			if err != nil {
				return err
			}
			for _, p := range kept.To {
				if _, remote := f.RemoteParty(p); remote || !m.givesReceipts(p) {
					continue
				}
				if err := m.owe(ctx, tx, subject, 0, p, at, st, true); err != nil {
					return err
				}
			}
			return nil
		case dc.EventHotlineAcked:
			if cur == nil || !cur.Addressed(a.Party) || cur.Acknowledged[a.Party] != nil {
				return nil
			}
			cur.Acknowledged[a.Party] = &at
			if err := tx.PutMessage(ctx, cur); err != nil {
				return err
			}
			return m.appendPeerMessageEvent(ctx, tx, typ, a, cur, at, &origin)
		}
		return dc.Errorf(dc.EInvalid, "not a hotline entry: %s", typ)
	})
	if err == nil {
		m.notify()
	}
	return err
}

// appendPeerMessageEvent records a replicated hotline entry, marked as a
// copy of the peer's.
func (m *Mechanism) appendPeerMessageEvent(ctx context.Context, tx dc.Tx, typ string, a dc.Actor, msg *dc.Message, at time.Time, origin *PeerOrigin) error {
	data, err := withOrigin(HotlineEventData{Message: msg}, origin)
	if err != nil {
		return err
	}
	return m.appendEvent(ctx, tx, &dc.Event{
		Type: typ, Time: at, Actor: a, Subject: &dc.Subject{Kind: dc.SubjectMessage, ID: msg.ID},
		Audience: append([]string{msg.From.Party}, msg.To...),
	}, data)
}
