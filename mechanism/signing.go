package mechanism

import (
	"context"
	"strconv"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/record"
)

// AddPartyKey registers a public key (a signed-note verifier string whose
// name is the party's ID or starts with "ID-") with which the party signs
// its acknowledgements. The registration goes on the record.
func (ac Access) AddPartyKey(ctx context.Context, party, verifier string) error {
	m := ac.m
	if _, err := record.CheckPartyKey(party, verifier); err != nil {
		return dc.FieldErrorf(dc.EInvalid, "key", "%v", err)
	}
	err := m.store.Update(ctx, func(tx dc.Tx) error {
		p, err := tx.Party(ctx, party)
		if dc.ErrorCode(err) == dc.ENotFound {
			return dc.FieldErrorf(dc.ENotFound, "party", "no party %q", party)
		} else if err != nil {
			return err
		}
		for _, k := range p.Keys {
			if k == verifier {
				return nil
			}
		}
		if err := tx.PutPartyKeys(ctx, party, append(p.Keys, verifier)); err != nil {
			return err
		}
		return m.appendEvent(ctx, tx, &dc.Event{
			Type: dc.EventPartyKeyAdded, Time: m.Now(), Actor: dc.Actor{Role: dc.RoleAdmin},
			Subject: &dc.Subject{Kind: dc.SubjectParty, ID: party},
		}, map[string]string{"party": party, "key": verifier})
	})
	if err == nil {
		m.notify()
	}
	return err
}

// checkSignedAck checks a party's signature on an acknowledgement; an
// empty signature is no signature.
func checkSignedAck(ctx context.Context, tx dc.Tx, a dc.Actor, signed, kind, id string, version int) error {
	if signed == "" {
		return nil
	}
	p, err := tx.Party(ctx, a.Party)
	if err != nil {
		return err
	}
	if len(p.Keys) == 0 {
		return dc.FieldErrorf(dc.EInvalid, "signed", "party %s has registered no key to sign with", a.Party)
	}
	if _, err := record.OpenAck(signed, kind, id, version, a.Party, p.Keys); err != nil {
		return dc.FieldErrorf(dc.EInvalid, "signed", "the signature does not verify: %v", err)
	}
	return nil
}

// DeliveryEventData is the body of webhook.delivered.
type DeliveryEventData struct {
	Delivery struct {
		Party     string `json:"party"`
		Webhook   string `json:"webhook"`
		EventSeq  int64  `json:"event_seq"`
		EventType string `json:"event_type"`
		WebhookID string `json:"webhook_id"`
		Status    int    `json:"status"`
		At        string `json:"at"`
	} `json:"delivery"`
}

// RecordDelivery puts a successful webhook delivery on the record, in the
// delivery worker's transaction (notify.Options.Delivered).
func (wh Webhooks) RecordDelivery(ctx context.Context, tx dc.Tx, w *dc.Webhook, e *dc.Event, st dc.Delivery) error {
	m := wh.m
	now := m.Now()
	at := now
	if st.LastAttempt != nil {
		at = st.LastAttempt.UTC()
	}
	var body DeliveryEventData
	d := &body.Delivery
	d.Party, d.Webhook, d.EventSeq, d.EventType = w.Party, w.Name, e.Seq, e.Type
	d.WebhookID, d.Status, d.At = "evt_"+strconv.FormatInt(e.Seq, 10), st.LastStatus, at.Format(time.RFC3339Nano)
	return m.appendEvent(ctx, tx, &dc.Event{
		Type: dc.EventWebhookDelivered, Time: now, Actor: dc.Actor{Role: dc.RoleSystem},
		Subject: &dc.Subject{Kind: dc.SubjectEvent, ID: strconv.FormatInt(e.Seq, 10)}, Audience: []string{w.Party},
	}, body)
}
