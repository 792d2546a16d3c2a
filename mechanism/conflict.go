package mechanism

import (
	"context"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/record"
)

// AckConflict records that the actor's party has seen a conflict. Only a
// liaison or head of a party involved may; acknowledging twice keeps the
// first time. signed, if not empty, is the party's signature of the
// acknowledgement (record.SignAck), checked against its registered keys
// and kept on the record.
func (m *Mechanism) AckConflict(ctx context.Context, a dc.Actor, id, signed string) (*dc.Conflict, error) {
	return m.updateConflict(ctx, a, id, signed, func(tx dc.Tx, c *dc.Conflict) (string, error) {
		if !a.Is(dc.RoleLiaison, dc.RoleHead) {
			return "", dc.Errorf(dc.EPermission, "only a liaison or head may acknowledge a conflict")
		}
		if c.Acknowledged[a.Party] != nil && signed == "" {
			return "", nil
		}
		if err := checkSignedAck(ctx, tx, a, signed, record.AckConflict, c.ID, 0); err != nil {
			return "", err
		}
		if c.Acknowledged[a.Party] != nil {
			return dc.EventConflictAcked, nil // a signature for an earlier acknowledgement
		}
		now := m.Now()
		c.Acknowledged[a.Party], c.UpdatedAt = &now, now
		return dc.EventConflictAcked, m.discharge(ctx, tx, a, dc.Subject{Kind: dc.SubjectConflict, ID: c.ID}, 0, a.Party, now)
	})
}

// WaiveConflict records that the head of the actor's party waives an open
// conflict. When the heads of every party involved have waived it, the
// conflict is waived and no longer blocks activation.
func (m *Mechanism) WaiveConflict(ctx context.Context, a dc.Actor, id string) (*dc.Conflict, error) {
	closed := false
	c, err := m.updateConflict(ctx, a, id, "", func(tx dc.Tx, c *dc.Conflict) (string, error) {
		closed = false
		if !a.Is(dc.RoleHead) {
			return "", dc.Errorf(dc.EPermission, "only the head of a party may waive a conflict")
		}
		if c.Waived[a.Party] != nil {
			return "", nil
		}
		if c.Status != dc.ConflictOpen {
			return "", dc.Errorf(dc.EInvalidTransition, "conflict %s is %s; only an open conflict can be waived", c.ID, c.Status)
		}
		now := m.Now()
		c.Waived[a.Party], c.UpdatedAt = &now, now
		if c.Acknowledged[a.Party] == nil {
			c.Acknowledged[a.Party] = &now
		}
		if c.Waived[c.Parties[0]] != nil && c.Waived[c.Parties[1]] != nil {
			c.Status, c.ClosedAt = dc.ConflictWaived, &now
			closed = true
		}
		return dc.EventConflictWaived, m.discharge(ctx, tx, a, dc.Subject{Kind: dc.SubjectConflict, ID: c.ID}, 0, a.Party, now)
	})
	if err == nil && closed {
		m.stats.addOpenConflicts(-1)
	}
	return c, err
}

// updateConflict loads a conflict the actor's party is involved in, lets
// fn change it, and stores it with the event fn names ("" for no change).
// signed, if not empty, is a signature of the acknowledgement kept in the
// event.
func (m *Mechanism) updateConflict(ctx context.Context, a dc.Actor, id, signed string, fn func(dc.Tx, *dc.Conflict) (string, error)) (*dc.Conflict, error) {
	if err := m.authorHere(a); err != nil {
		return nil, err
	}
	var out *dc.Conflict
	err := m.store.Update(ctx, func(tx dc.Tx) error {
		c, err := tx.Conflict(ctx, id)
		if dc.ErrorCode(err) == dc.ENotFound || (err == nil && !c.Involves(a.Party) && !a.SeesAll()) {
			return dc.Errorf(dc.ENotFound, "no conflict %s", id)
		} else if err != nil {
			return err
		}
		if !c.Involves(a.Party) {
			return dc.Errorf(dc.EPermission, "only the parties involved act on a conflict")
		}
		c = copyConflict(c)
		typ, err := fn(tx, c)
		if err != nil || typ == "" {
			out = c
			return err
		}
		if err := tx.PutConflict(ctx, c); err != nil {
			return err
		}
		ev := conflictEvent(typ, c, a, c.UpdatedAt)
		ev.data = ConflictEventData{Conflict: c, Signed: signed}
		out = c
		return m.appendEvent(ctx, tx, ev.event, ev.data)
	})
	if err == nil {
		m.notify()
	}
	return out, err
}
