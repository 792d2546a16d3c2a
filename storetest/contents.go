package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/deconflict/deconflict"
)

// contents is everything a store holds, as lists read it.
type contents struct {
	Parties    []*deconflict.Party
	Tokens     []*deconflict.Token
	Settings   deconflict.Settings
	Operations []*deconflict.Operation
	Conflicts  []*deconflict.Conflict
	Events     []*deconflict.Event
	LastSeq    int64
	Duties     []*deconflict.Duty
	Messages   []*deconflict.Message
	Webhooks   []*deconflict.Webhook
	LogHashes  map[int64][32]byte // those at indexes below contentsLogSize
	Keys       []*deconflict.SigningKey
}

// contentsLogSize bounds the storage indexes readContents reads.
const contentsLogSize = 16

// readContents reads everything s holds, in one View.
func readContents(t *testing.T, s deconflict.Store) contents {
	t.Helper()
	var c contents
	view(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		var err error
		if c.Parties, err = tx.Parties(ctx); err != nil {
			return err
		}
		slices.SortFunc(c.Parties, func(a, b *deconflict.Party) int { return strings.Compare(a.ID, b.ID) })
		if c.Tokens, err = tx.Tokens(ctx); err != nil {
			return err
		}
		slices.SortFunc(c.Tokens, func(a, b *deconflict.Token) int { return strings.Compare(a.ID, b.ID) })
		if c.Settings, err = tx.Settings(ctx); err != nil {
			return err
		}
		if c.Operations, _, err = tx.Operations(ctx, deconflict.OperationFilter{Limit: 10_000}); err != nil {
			return err
		}
		if c.Conflicts, _, err = tx.Conflicts(ctx, deconflict.ConflictFilter{Limit: 10_000}); err != nil {
			return err
		}
		if c.Events, err = tx.Events(ctx, 0, 10_000); err != nil {
			return err
		}
		if c.LastSeq, err = tx.LastSeq(ctx); err != nil {
			return err
		}
		if c.Duties, _, err = tx.Duties(ctx, deconflict.DutyFilter{Limit: 10_000}); err != nil {
			return err
		}
		if c.Messages, _, err = tx.Messages(ctx, deconflict.MessageFilter{Limit: 10_000}); err != nil {
			return err
		}
		if c.Webhooks, err = tx.Webhooks(ctx, ""); err != nil {
			return err
		}
		c.LogHashes = map[int64][32]byte{}
		for idx := range int64(contentsLogSize) {
			hs, err := tx.LogHashes(ctx, []int64{idx})
			if deconflict.ErrorCode(err) == deconflict.ENotFound {
				continue
			} else if err != nil {
				return err
			}
			c.LogHashes[idx] = hs[0]
		}
		c.Keys, err = tx.Keys(ctx)
		return err
	})
	return c
}

// populate stores a little of everything.
func populate(t *testing.T, s deconflict.Store) {
	t.Helper()
	update(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		for i, id := range []string{"alpha", "bravo", "charlie"} {
			if err := tx.CreateParty(ctx, &deconflict.Party{ID: id, Name: strings.ToUpper(id), CreatedAt: at(i)}); err != nil {
				return err
			}
			tok := &deconflict.Token{ID: "tok-" + id, Hash: []byte("hash of " + id), Role: deconflict.RoleHead, Party: id, CreatedAt: at(i)}
			if i == 2 {
				tok.RevokedAt = ptr(at(9))
			}
			if err := tx.CreateToken(ctx, tok); err != nil {
				return err
			}
		}
		if err := tx.PutSettings(ctx, deconflict.Settings{HorizontalM: 1, VerticalM: 2, TimeS: 3, NoticeS: 4, AckTimeoutS: 5}); err != nil {
			return err
		}
		for i := range 6 {
			op := newOperation(i, []string{"alpha", "bravo", "charlie"}[i%3], deconflict.StatePlanned, at(10*i), at(10*i+30), int64(i+1))
			if i == 4 {
				op = sparseOperation(i, "bravo", at(0), at(1))
			}
			if err := tx.PutOperation(ctx, op); err != nil {
				return err
			}
		}
		for i, p := range [][2]int{{0, 1}, {1, 2}, {2, 0}} {
			c := newConflict(i, opID(p[0]), opID(p[1]), "alpha", "bravo", deconflict.ConflictOpen)
			if err := tx.PutConflict(ctx, c); err != nil {
				return err
			}
		}
		for i := range 4 {
			d := newDuty(i, []string{"alpha", "bravo"}[i%2], deconflict.Subject{Kind: "operation", ID: opID(i)})
			if i%2 == 0 {
				d = sparseDuty(i, "charlie", deconflict.Subject{Kind: "conflict", ID: conflictID(i)})
			}
			if err := tx.PutDuty(ctx, d); err != nil {
				return err
			}
			if err := tx.PutMessage(ctx, newMessage(i, "alpha", "bravo", "charlie")); err != nil {
				return err
			}
			if err := tx.PutWebhook(ctx, newWebhook([]string{"alpha", "bravo"}[i%2], fmt.Sprint("hook-", i), i)); err != nil {
				return err
			}
		}
		if err := tx.PutLogHashes(ctx, 0, logHashes(0, 7)); err != nil {
			return err
		}
		k := newKey("zulu.example", 1)
		k.RetiredAt = ptr(at(2))
		if err := tx.PutKey(ctx, k); err != nil {
			return err
		}
		if err := tx.PutKey(ctx, newKey("alpha.example", 2)); err != nil {
			return err
		}
		for i := range 5 {
			e := &deconflict.Event{Type: deconflict.EventOperationDeclared, Time: at(i), Audience: []string{"alpha"},
				Subject: &deconflict.Subject{Kind: "operation", ID: opID(i)}, Data: json.RawMessage(`{"i":1}`)}
			if err := tx.AppendEvent(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
}

// writeEverything changes every kind of record in tx.
func writeEverything(ctx context.Context, tx deconflict.Tx) error {
	if err := tx.CreateParty(ctx, &deconflict.Party{ID: "zulu", CreatedAt: at(0)}); err != nil {
		return err
	}
	if err := tx.CreateToken(ctx, &deconflict.Token{ID: "tok-zulu", Hash: []byte("zulu"), Role: deconflict.RoleAdmin, CreatedAt: at(0)}); err != nil {
		return err
	}
	if err := tx.PutSettings(ctx, deconflict.Settings{HorizontalM: 99}); err != nil {
		return err
	}
	for _, n := range []int{0, 50} { // a replace and an insert
		if err := tx.PutOperation(ctx, newOperation(n, "zulu", deconflict.StateCancelled, at(0), at(1), 99)); err != nil {
			return err
		}
	}
	for _, n := range []int{0, 50} {
		if err := tx.PutConflict(ctx, newConflict(n, opID(50+n), opID(51+n), "zulu", "alpha", deconflict.ConflictWaived)); err != nil {
			return err
		}
	}
	for _, n := range []int{0, 50} {
		if err := tx.PutDuty(ctx, newDuty(n, "zulu", deconflict.Subject{Kind: "message", ID: "zulu"})); err != nil {
			return err
		}
		if err := tx.PutMessage(ctx, newMessage(n, "zulu", "alpha", "yankee")); err != nil {
			return err
		}
		if err := tx.PutWebhook(ctx, newWebhook([]string{"alpha", "zulu"}[n%2], fmt.Sprint("hook-", n), n+7)); err != nil {
			return err
		}
	}
	if err := tx.PutDelivery(ctx, "alpha", "hook-0", newDelivery(77)); err != nil {
		return err
	}
	if err := tx.PutWebhook(ctx, newWebhook("zulu", "gone", 1)); err != nil {
		return err
	}
	if err := tx.DeleteWebhook(ctx, "zulu", "gone"); err != nil {
		return err
	}
	if err := tx.PutLogHashes(ctx, 7, logHashes(7, 3)); err != nil {
		return err
	}
	for _, k := range []*deconflict.SigningKey{newKey("xray.example", 30), newKey("zulu.example", 31)} {
		if err := tx.PutKey(ctx, k); err != nil {
			return err
		}
	}
	return tx.AppendEvent(ctx, &deconflict.Event{Type: deconflict.EventPartyAdded, Time: at(0)})
}
