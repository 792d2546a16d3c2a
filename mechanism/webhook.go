package mechanism

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/url"
	"regexp"

	dc "github.com/deconflict/deconflict"
)

// Webhooks is the part of the mechanism that manages where a party's
// events are delivered: its webhooks (put, listed, deleted) and the record
// of each successful delivery. It is a view over the same Mechanism, kept
// as its own type so that surface can be read alone.
type Webhooks struct{ m *Mechanism }

// Webhooks returns the webhook view of m.
func (m *Mechanism) Webhooks() Webhooks { return Webhooks{m: m} }

var webhookName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// MaxWebhooks is how many webhooks one party may have. Each one is a
// delivery worker and a connection to a receiver; the cap keeps what one
// party can make the server do bounded. Creating one more is refused
// with invalid_argument, field name.
const MaxWebhooks = 16

// EventTypes lists every event type a webhook may subscribe to.
var EventTypes = []string{
	dc.EventOperationDeclared, dc.EventOperationUpdated, dc.EventOperationActivated, dc.EventOperationEnded,
	dc.EventOperationCancelled, dc.EventOperationReceipt, dc.EventConflictOpened, dc.EventConflictAcked,
	dc.EventConflictResolved, dc.EventConflictWaived, dc.EventNoticeShort, dc.EventEscalationRaised,
	dc.EventEscalationCleared, dc.EventHotlineMessage, dc.EventHotlineAcked, dc.EventLineCheck,
	dc.EventSettingsChanged, dc.EventPartyAdded, dc.EventPartyKeyAdded,
	dc.EventOperationReceived, dc.EventOperationsReceived, dc.EventOperationOverride, dc.EventFederationAlert,
}

// Subscription is what a head asks for in PUT /v1/webhooks/{name}.
type Subscription struct {
	URL    string   `json:"url"`
	Events []string `json:"events"`
}

func (s *Subscription) validate(egress dc.Egress) error {
	u, err := url.Parse(s.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return dc.FieldErrorf(dc.EInvalid, "url", "url must be an absolute http or https URL")
	}
	if err := egress.CheckURL(s.URL); err != nil {
		return err
	}
	if len(s.Events) == 0 {
		return dc.FieldErrorf(dc.EInvalid, "events", "events needs at least one event type")
	}
	known := map[string]bool{}
	for _, t := range EventTypes {
		known[t] = true
	}
	for i, t := range s.Events {
		if !known[t] {
			return dc.FieldErrorf(dc.EInvalid, fmt.Sprintf("events[%d]", i), "unknown event type %q", t)
		}
	}
	return nil
}

// Put creates or changes a webhook of the actor's party (heads
// only). The secret is returned only when the webhook is created. A new
// webhook receives the events that follow its creation.
func (wh Webhooks) Put(ctx context.Context, a dc.Actor, name string, s Subscription) (*dc.Webhook, string, bool, error) {
	m := wh.m
	if !a.Is(dc.RoleHead) || a.Party == "" {
		return nil, "", false, dc.Errorf(dc.EPermission, "only the head of a party manages its webhooks")
	}
	if !webhookName.MatchString(name) {
		return nil, "", false, dc.FieldErrorf(dc.EInvalid, "name", "webhook name must match [a-z0-9][a-z0-9_-]{0,63}")
	}
	if err := s.validate(m.egress); err != nil {
		return nil, "", false, err
	}
	var (
		w       *dc.Webhook
		created bool
	)
	err := m.store.Update(ctx, func(tx dc.Tx) error {
		now := m.Now()
		old, err := tx.Webhook(ctx, a.Party, name)
		switch {
		case dc.ErrorCode(err) == dc.ENotFound:
			mine, err := tx.Webhooks(ctx, a.Party)
			if err != nil {
				return err
			}
			if len(mine) >= MaxWebhooks {
				return dc.FieldErrorf(dc.EInvalid, "name", "a party has at most %d webhooks; delete one before creating another", MaxWebhooks)
			}
			last, err := tx.LastSeq(ctx)
			if err != nil {
				return err
			}
			var key [32]byte
			if _, err := rand.Read(key[:]); err != nil {
				return err
			}
			created = true
			w = &dc.Webhook{Party: a.Party, Name: name, CreatedAt: now,
				Secret: "whsec_" + base64.StdEncoding.EncodeToString(key[:]), Delivery: dc.Delivery{DeliveredSeq: last}}
		case err != nil:
			return err
		default:
			w = old
			if s.URL == RedactURL(old.URL) {
				// The URL as GET shows it, credentials hidden: unchanged.
				s.URL = old.URL
			}
			if w.URL != s.URL {
				w.Delivery.NextAttempt = nil // a new receiver is tried at once
			}
		}
		w.URL, w.Events, w.UpdatedAt = s.URL, s.Events, now
		return tx.PutWebhook(ctx, w)
	})
	if err != nil {
		return nil, "", false, err
	}
	m.notify()
	if created {
		return redacted(w), w.Secret, true, nil
	}
	return redacted(w), "", false, nil
}

// List lists the webhooks of the actor's party (heads), or of every
// party (admins), with their delivery state.
func (wh Webhooks) List(ctx context.Context, a dc.Actor) ([]*dc.Webhook, error) {
	m := wh.m
	party := a.Party
	switch {
	case a.Is(dc.RoleAdmin):
		party = ""
	case !a.Is(dc.RoleHead):
		return nil, dc.Errorf(dc.EPermission, "only heads and admins see webhooks")
	}
	var ws []*dc.Webhook
	err := m.store.View(ctx, func(tx dc.Tx) (err error) {
		ws, err = tx.Webhooks(ctx, party)
		return err
	})
	if ws == nil {
		ws = []*dc.Webhook{}
	}
	for i, w := range ws {
		ws[i] = redacted(w)
	}
	return ws, err
}

// Delete removes a webhook of the actor's party.
func (wh Webhooks) Delete(ctx context.Context, a dc.Actor, name string) error {
	m := wh.m
	if !a.Is(dc.RoleHead) || a.Party == "" {
		return dc.Errorf(dc.EPermission, "only the head of a party manages its webhooks")
	}
	err := m.store.Update(ctx, func(tx dc.Tx) error { return tx.DeleteWebhook(ctx, a.Party, name) })
	if dc.ErrorCode(err) == dc.ENotFound {
		return dc.Errorf(dc.ENotFound, "no webhook %q", name)
	}
	return err
}

// redacted returns w as it is shown to parties: a copy without the
// credentials of its URL.
func redacted(w *dc.Webhook) *dc.Webhook {
	c := *w
	c.URL = RedactURL(w.URL)
	return &c
}

// RedactURL returns the URL with its user information (user name and
// password), if any, replaced by "redacted": credentials given in a
// webhook's URL are used to deliver but never shown back or logged.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	u.User = url.User("redacted")
	return u.String()
}
