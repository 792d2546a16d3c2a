package mechanism

import (
	"context"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/record"
)

// Receipt is a party's confirmation that it has seen a version of another
// party's operation.
type Receipt struct {
	Operation string `json:"operation"`
	Party     string `json:"party"`
	Version   int    `json:"version"`
	At        string `json:"at"`
	// Signed is the party's own signature of the receipt (a signed note),
	// if it gave one.
	Signed string `json:"signed,omitempty"`
}

// AckOperation records that the actor's party has seen version of
// operation id (POST /v1/operations/{id}/ack). Only a liaison or head of
// another party may. signed, if not empty, is the party's signature of
// the receipt (record.SignAck), checked against its registered keys.
func (m *Mechanism) AckOperation(ctx context.Context, a dc.Actor, id string, version int, signed string) (*Receipt, error) {
	if !a.Is(dc.RoleLiaison, dc.RoleHead) || a.Party == "" {
		return nil, dc.Errorf(dc.EPermission, "only a liaison or head acknowledges operations")
	}
	if err := m.authorHere(a); err != nil {
		return nil, err
	}
	if version < 1 {
		return nil, dc.FieldErrorf(dc.EInvalid, "version", "version must be 1 or more")
	}
	var r *Receipt
	err := m.store.Update(ctx, func(tx dc.Tx) error {
		op, err := tx.Operation(ctx, id)
		if dc.ErrorCode(err) == dc.ENotFound {
			return dc.Errorf(dc.ENotFound, "no operation %s", id)
		} else if err != nil {
			return err
		}
		if op.Party == a.Party {
			return dc.Errorf(dc.EPermission, "a party does not acknowledge its own operation")
		}
		if version > op.Version {
			return dc.FieldErrorf(dc.EInvalid, "version", "operation %s has no version %d (its version is %d)", id, version, op.Version)
		}
		if err := checkSignedAck(ctx, tx, a, signed, record.AckOperation, id, version); err != nil {
			return err
		}
		now := m.Now()
		r = &Receipt{Operation: id, Party: a.Party, Version: version, At: now.Format(timeFormat), Signed: signed}
		subject := dc.Subject{Kind: dc.SubjectOperation, ID: id}
		if err := m.acknowledgeOperation(ctx, tx, a, op, version, a.Party, now); err != nil {
			return err
		}
		return m.appendEvent(ctx, tx, &dc.Event{
			Type: dc.EventOperationReceipt, Time: now, Actor: a, Subject: &subject,
			Audience: []string{op.Party, a.Party},
		}, map[string]*Receipt{"receipt": r})
	})
	if err != nil {
		return nil, err
	}
	m.notify()
	return r, nil
}

// timeFormat is how times are written in event bodies: RFC 3339 in UTC.
const timeFormat = "2006-01-02T15:04:05.999999Z07:00"
