package storetest

import (
	"context"
	"testing"

	"github.com/deconflict/deconflict"
)

// listWebhooks returns what Webhooks returns.
func listWebhooks(t *testing.T, s deconflict.Store, party string) []*deconflict.Webhook {
	t.Helper()
	ws := read(t, s, func(ctx context.Context, tx deconflict.Tx) ([]*deconflict.Webhook, error) {
		return tx.Webhooks(ctx, party)
	})
	if len(ws) == 0 {
		return nil
	}
	return ws
}

func testWebhooks(t *testing.T, f Factory) {
	s := f.Open(t)
	ctx := t.Context()
	// Stored out of order; party "al" sorts before "alpha", name "B"
	// before "a".
	alphaB := newWebhook("alpha", "b-hook", 1)
	alphaA := newWebhook("alpha", "a-hook", 2)
	alphaA.Events, alphaA.Delivery = nil, deconflict.Delivery{} // never delivered
	bravoA := newWebhook("bravo", "a-hook", 3)
	bravoA.Events = []string{}
	al := newWebhook("al", "z", 4)
	alphaUpper := newWebhook("alpha", "B", 5)
	alphaUpper.Delivery.LastStatus, alphaUpper.Delivery.LastError, alphaUpper.Delivery.FailingSince = 0, "", nil
	putAll(t, s, deconflict.Tx.PutWebhook, alphaB, bravoA)
	putAll(t, s, deconflict.Tx.PutWebhook, alphaA, al, alphaUpper)

	all := []*deconflict.Webhook{al, alphaUpper, alphaA, alphaB, bravoA}
	checkAll := func(what string, all []*deconflict.Webhook) {
		t.Helper()
		view(t, s, func(ctx context.Context, tx deconflict.Tx) error {
			for _, w := range all {
				got, err := tx.Webhook(ctx, w.Party, w.Name)
				if err != nil {
					t.Fatalf("%s: Webhook(%s, %s): %v", what, w.Party, w.Name, err)
				}
				equal(t, what+": Webhook("+w.Party+", "+w.Name+")", got, wantWebhook(w))
			}
			for _, key := range [][2]string{{"alpha", "c-hook"}, {"bravo", "b-hook"}, {"charlie", "a-hook"}, {"", "a-hook"}, {"alpha", ""}} {
				_, err := tx.Webhook(ctx, key[0], key[1])
				wantCode(t, what+": Webhook("+key[0]+", "+key[1]+")", err, deconflict.ENotFound)
			}
			return nil
		})
		equal(t, what+": Webhooks(\"\")", listWebhooks(t, s, ""), wantAll(wantWebhook, all))
		for _, party := range []string{"al", "alpha", "bravo", "charlie", "a"} {
			var want []*deconflict.Webhook
			for _, w := range all {
				if w.Party == party {
					want = append(want, w)
				}
			}
			equal(t, what+": Webhooks("+party+")", listWebhooks(t, s, party), wantAll(wantWebhook, want))
		}
	}
	checkAll("stored", all)

	// PutWebhook replaces every field.
	replaced := newWebhook("alpha", "b-hook", 20)
	replaced.Events = nil
	replaced.Delivery.LastAttempt, replaced.Delivery.NextAttempt = nil, nil
	*alphaB = *replaced
	alphaA.URL, alphaA.Events, alphaA.Secret = "http://[::1]:8080/x", []string{deconflict.EventLineCheck}, "whsec_new"
	alphaA.Delivery = newDelivery(21)
	putAll(t, s, deconflict.Tx.PutWebhook, alphaB, alphaA)
	checkAll("replaced", all)

	// PutDelivery changes the delivery state and nothing else.
	update(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		if err := tx.PutDelivery(ctx, "alpha", "a-hook", deconflict.Delivery{}); err != nil {
			return err
		}
		if err := tx.PutDelivery(ctx, "bravo", "a-hook", newDelivery(30)); err != nil {
			return err
		}
		return tx.PutDelivery(ctx, "alpha", "B", newDelivery(31))
	})
	alphaA.Delivery, bravoA.Delivery, alphaUpper.Delivery = deconflict.Delivery{}, newDelivery(30), newDelivery(31)
	checkAll("deliveries", all)
	for _, key := range [][2]string{{"alpha", "c-hook"}, {"bravo", "b-hook"}, {"charlie", "a-hook"}} {
		err := s.Update(ctx, func(tx deconflict.Tx) error { return tx.PutDelivery(ctx, key[0], key[1], newDelivery(40)) })
		wantCode(t, "PutDelivery("+key[0]+", "+key[1]+")", err, deconflict.ENotFound)
	}
	checkAll("PutDelivery of unknown webhooks", all)

	// A delivery worker read the webhook, then a head changed it: the
	// worker's PutDelivery keeps the head's change.
	var read *deconflict.Webhook
	view(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		var err error
		read, err = tx.Webhook(ctx, "bravo", "a-hook")
		return err
	})
	bravoA.URL, bravoA.Events, bravoA.Secret, bravoA.UpdatedAt = "https://bravo.example/new", []string{deconflict.EventHotlineMessage}, "whsec_rotated", at(70)
	putAll(t, s, deconflict.Tx.PutWebhook, bravoA)
	read.Delivery.DeliveredSeq++
	read.Delivery.Delivered++
	read.Delivery.Attempts, read.Delivery.LastStatus, read.Delivery.LastError = 0, 204, ""
	read.Delivery.FailingSince, read.Delivery.NextAttempt = nil, nil
	update(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		return tx.PutDelivery(ctx, read.Party, read.Name, read.Delivery)
	})
	bravoA.Delivery = read.Delivery
	checkAll("delivery after a change", all)

	// DeleteWebhook removes one, of one party.
	update(t, s, func(ctx context.Context, tx deconflict.Tx) error { return tx.DeleteWebhook(ctx, "alpha", "a-hook") })
	all = []*deconflict.Webhook{al, alphaUpper, alphaB, bravoA}
	checkAll("deleted", all)
	for _, key := range [][2]string{{"alpha", "a-hook"}, {"bravo", "b-hook"}, {"charlie", "a-hook"}, {"", "z"}} {
		err := s.Update(ctx, func(tx deconflict.Tx) error { return tx.DeleteWebhook(ctx, key[0], key[1]) })
		wantCode(t, "DeleteWebhook("+key[0]+", "+key[1]+")", err, deconflict.ENotFound)
	}
	err := s.Update(ctx, func(tx deconflict.Tx) error { return tx.PutDelivery(ctx, "alpha", "a-hook", newDelivery(50)) })
	wantCode(t, "PutDelivery of a deleted webhook", err, deconflict.ENotFound)
	checkAll("deleted twice", all)

	// Put again, it is new.
	again := newWebhook("alpha", "a-hook", 60)
	putAll(t, s, deconflict.Tx.PutWebhook, again)
	all = []*deconflict.Webhook{al, alphaUpper, again, alphaB, bravoA}
	checkAll("put again", all)
}
