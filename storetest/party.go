package storetest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/deconflict/deconflict"
)

func testParties(t *testing.T, f Factory) {
	s := f.Open(t)
	alpha := &deconflict.Party{ID: "alpha", Name: "Alpha Force", CreatedAt: at(0)}
	bravo := &deconflict.Party{ID: "bravo", CreatedAt: at(1)}
	update(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		if err := tx.CreateParty(ctx, bravo); err != nil {
			return err
		}
		return tx.CreateParty(ctx, alpha)
	})

	ctx := t.Context()
	err := s.Update(ctx, func(tx deconflict.Tx) error {
		return tx.CreateParty(ctx, &deconflict.Party{ID: "alpha", Name: "Impostor", CreatedAt: at(5)})
	})
	wantCode(t, "CreateParty of an existing ID", err, deconflict.EExists)

	view(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		got, err := tx.Party(ctx, "alpha")
		if err != nil {
			t.Fatalf("Party(alpha): %v", err)
		}
		equal(t, "Party(alpha)", got, wantParty(alpha))

		_, err = tx.Party(ctx, "charlie")
		wantCode(t, "Party(charlie)", err, deconflict.ENotFound)

		ps, err := tx.Parties(ctx)
		if err != nil {
			t.Fatalf("Parties: %v", err)
		}
		slices.SortFunc(ps, func(a, b *deconflict.Party) int { return strings.Compare(a.ID, b.ID) })
		equal(t, "Parties", ps, []*deconflict.Party{wantParty(alpha), wantParty(bravo)})
		return nil
	})

	// Keys: replaced whole, kept in order, nothing for a missing party.
	keys := []string{"alpha-k1+1234abcd+AQID", "alpha-k2+5678ef01+BAUG"}
	update(t, s, func(ctx context.Context, tx deconflict.Tx) error { return tx.PutPartyKeys(ctx, "alpha", keys) })
	err = s.Update(ctx, func(tx deconflict.Tx) error { return tx.PutPartyKeys(ctx, "charlie", keys) })
	wantCode(t, "PutPartyKeys(charlie)", err, deconflict.ENotFound)
	view(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		got, err := tx.Party(ctx, "alpha")
		if err != nil {
			t.Fatalf("Party(alpha): %v", err)
		}
		equal(t, "keys of alpha", got.Keys, keys)
		b, err := tx.Party(ctx, "bravo")
		if err != nil {
			t.Fatalf("Party(bravo): %v", err)
		}
		if b.Keys != nil {
			t.Errorf("bravo has keys %v, want none", b.Keys)
		}
		return nil
	})
	update(t, s, func(ctx context.Context, tx deconflict.Tx) error { return tx.PutPartyKeys(ctx, "alpha", keys[1:]) })
	view(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		got, _ := tx.Party(ctx, "alpha")
		equal(t, "keys of alpha after a replace", got.Keys, keys[1:])
		return nil
	})
}

func testTokens(t *testing.T, f Factory) {
	s := f.Open(t)
	hash := func(secret string) []byte { h := sha256.Sum256([]byte(secret)); return h[:] }
	admin := &deconflict.Token{ID: "tok-admin", Hash: hash("a"), Role: deconflict.RoleAdmin, CreatedAt: at(0)}
	op := &deconflict.Token{ID: "tok-op", Hash: hash("b"), Role: deconflict.RoleOperator, Party: "alpha",
		Label: "ops room, «desk 2»", CreatedAt: at(1)}
	old := &deconflict.Token{ID: "tok-old", Hash: hash("c"), Role: deconflict.RoleHead, Party: "bravo",
		CreatedAt: at(2), RevokedAt: ptr(at(3))}
	update(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		for _, tok := range []*deconflict.Token{admin, op, old} {
			if err := tx.CreateToken(ctx, tok); err != nil {
				return err
			}
		}
		return nil
	})

	wantRevocations(t, s, "tokens created, one of them revoked", 1)

	ctx := t.Context()
	err := s.Update(ctx, func(tx deconflict.Tx) error {
		return tx.CreateToken(ctx, &deconflict.Token{ID: "tok-op", Hash: hash("d"), Role: deconflict.RoleAdmin, CreatedAt: at(4)})
	})
	wantCode(t, "CreateToken of an existing ID", err, deconflict.EExists)
	err = s.Update(ctx, func(tx deconflict.Tx) error {
		return tx.CreateToken(ctx, &deconflict.Token{ID: "tok-new", Hash: hash("b"), Role: deconflict.RoleAdmin, CreatedAt: at(4)})
	})
	wantCode(t, "CreateToken of an existing hash", err, deconflict.EExists)

	view(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		for _, tok := range []*deconflict.Token{admin, op, old} {
			got, err := tx.TokenByHash(ctx, tok.Hash)
			if err != nil {
				t.Fatalf("TokenByHash(%s): %v", tok.ID, err)
			}
			equal(t, "TokenByHash("+tok.ID+")", got, wantToken(tok))
		}
		_, err := tx.TokenByHash(ctx, hash("nope"))
		wantCode(t, "TokenByHash of an unknown hash", err, deconflict.ENotFound)
		_, err = tx.TokenByHash(ctx, nil)
		wantCode(t, "TokenByHash(nil)", err, deconflict.ENotFound)

		toks, err := tx.Tokens(ctx)
		if err != nil {
			t.Fatalf("Tokens: %v", err)
		}
		slices.SortFunc(toks, func(a, b *deconflict.Token) int { return strings.Compare(a.ID, b.ID) })
		equal(t, "Tokens", toks, []*deconflict.Token{wantToken(admin), wantToken(old), wantToken(op)})
		return nil
	})

	revoked := at(10)
	update(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		return tx.RevokeToken(ctx, "tok-op", revoked)
	})
	err = s.Update(ctx, func(tx deconflict.Tx) error { return tx.RevokeToken(ctx, "tok-none", revoked) })
	wantCode(t, "RevokeToken of an unknown ID", err, deconflict.ENotFound)
	wantRevocations(t, s, "a token revoked", 2)
	update(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		return tx.RevokeToken(ctx, "tok-op", revoked.Add(time.Hour))
	})
	wantRevocations(t, s, "the same token revoked again", 2)

	view(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		got, err := tx.TokenByHash(ctx, op.Hash)
		if err != nil {
			t.Fatalf("TokenByHash after RevokeToken: %v", err)
		}
		want := wantToken(op)
		want.RevokedAt = ptr(revoked.UTC())
		equal(t, "token after RevokeToken", got, want)
		got, err = tx.TokenByHash(ctx, admin.Hash)
		if err != nil {
			t.Fatalf("TokenByHash(admin): %v", err)
		}
		equal(t, "other token after RevokeToken", got, wantToken(admin))
		return nil
	})
}

// wantRevocations checks the number of revoked tokens a store that counts
// them (deconflict.RevocationCounter) gives: every token cache of a
// running server relies on it changing with every revocation.
func wantRevocations(t *testing.T, s deconflict.Store, after string, want int64) {
	t.Helper()
	rc, ok := s.(deconflict.RevocationCounter)
	if !ok {
		return
	}
	got, err := rc.RevokedTokens(t.Context())
	if err != nil {
		t.Fatalf("RevokedTokens after %s: %v", after, err)
	}
	if got != want {
		t.Errorf("RevokedTokens after %s = %d, want %d", after, got, want)
	}
}

func testSettings(t *testing.T, f Factory) {
	s := f.Open(t)
	view(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		got, err := tx.Settings(ctx)
		if err != nil {
			t.Fatalf("Settings: %v", err)
		}
		equal(t, "Settings of a new store", got, deconflict.DefaultSettings())
		return nil
	})
	for _, want := range []deconflict.Settings{
		{HorizontalM: 1852.0001, VerticalM: 0, TimeS: 0.125, NoticeS: 86400, AckTimeoutS: 1e-3},
		{HorizontalM: 2_000_000, VerticalM: 100_000, TimeS: 30 * 86400, NoticeS: 365 * 86400, AckTimeoutS: 1},
		deconflict.DefaultSettings(),
	} {
		update(t, s, func(ctx context.Context, tx deconflict.Tx) error { return tx.PutSettings(ctx, want) })
		view(t, s, func(ctx context.Context, tx deconflict.Tx) error {
			got, err := tx.Settings(ctx)
			if err != nil {
				t.Fatalf("Settings: %v", err)
			}
			equal(t, "Settings after PutSettings", got, want)
			return nil
		})
	}
}

// testTimes checks that times with nanoseconds, in any zone, come back in
// UTC within a microsecond.
func testTimes(t *testing.T, f Factory) {
	s := f.Open(t)
	base := time.Date(2026, 11, 25, 15, 0, 0, 123456789, zone)
	op := newOperation(1, "alpha", deconflict.StatePlanned, base.Add(time.Hour), base.Add(2*time.Hour), 1)
	op.CreatedAt, op.UpdatedAt = base, base.Add(time.Nanosecond)
	c := newConflict(1, op.ID, opID(2), "alpha", "bravo", deconflict.ConflictWaived)
	c.DetectedAt = base.Add(999 * time.Nanosecond)
	c.ClosedAt = ptr(base.Add(1001 * time.Nanosecond))
	c.Acknowledged["bravo"] = ptr(base.Add(-1 * time.Nanosecond))
	e := &deconflict.Event{Type: deconflict.EventOperationDeclared, Time: base}
	p := &deconflict.Party{ID: "alpha", CreatedAt: base}
	tok := &deconflict.Token{ID: "t", Hash: []byte{1}, Role: deconflict.RoleAdmin, CreatedAt: base, RevokedAt: ptr(base)}
	// The UNIX epoch and the zero time are instants too.
	epoch := &deconflict.Party{ID: "epoch", CreatedAt: time.Unix(0, 0)}
	zero := &deconflict.Party{ID: "zero"}
	d := &deconflict.Duty{ID: "d", CreatedAt: base, DueAt: ptr(base.Add(1)), AckedAt: ptr(base.Add(2)),
		RaisedAt: ptr(base.Add(3)), ClearedAt: ptr(base.Add(-1))}
	m := newMessage(1, "alpha", "bravo")
	m.SentAt, m.Acknowledged["bravo"] = base, ptr(base.Add(5))
	w := newWebhook("alpha", "w", 1)
	w.CreatedAt, w.UpdatedAt = base, base.Add(7)
	w.Delivery.LastAttempt, w.Delivery.NextAttempt, w.Delivery.FailingSince = ptr(base), ptr(base.Add(8)), ptr(base.Add(-8))
	update(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		for _, p := range []*deconflict.Party{p, epoch, zero} {
			if err := tx.CreateParty(ctx, p); err != nil {
				return err
			}
		}
		if err := tx.CreateToken(ctx, tok); err != nil {
			return err
		}
		if err := tx.PutOperation(ctx, op); err != nil {
			return err
		}
		if err := tx.PutConflict(ctx, c); err != nil {
			return err
		}
		if err := tx.PutDuty(ctx, d); err != nil {
			return err
		}
		if err := tx.PutMessage(ctx, m); err != nil {
			return err
		}
		if err := tx.PutWebhook(ctx, w); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, e)
	})

	check := func(what string, got, want time.Time) {
		t.Helper()
		if got.Location() != time.UTC {
			t.Errorf("%s: %s is not in UTC", what, fmtTime(got))
		}
		if d := got.Sub(want); d <= -time.Microsecond || d >= time.Microsecond {
			t.Errorf("%s: got %s, want %s within a microsecond", what, fmtTime(got), fmtTime(want))
		}
	}
	view(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		gotOp, err := tx.Operation(ctx, op.ID)
		if err != nil {
			t.Fatalf("Operation: %v", err)
		}
		check("Operation.CreatedAt", gotOp.CreatedAt, op.CreatedAt)
		check("Operation.UpdatedAt", gotOp.UpdatedAt, op.UpdatedAt)
		check("Operation.Start", gotOp.Start, op.Start)
		check("Operation.End", gotOp.End, op.End)
		gotC, err := tx.Conflict(ctx, c.ID)
		if err != nil {
			t.Fatalf("Conflict: %v", err)
		}
		check("Conflict.DetectedAt", gotC.DetectedAt, c.DetectedAt)
		check("Conflict.ClosedAt", *gotC.ClosedAt, *c.ClosedAt)
		check("Conflict.Acknowledged", *gotC.Acknowledged["bravo"], *c.Acknowledged["bravo"])
		es, err := tx.Events(ctx, 0, 10)
		if err != nil || len(es) != 1 {
			t.Fatalf("Events: %d events, error %v", len(es), err)
		}
		check("Event.Time", es[0].Time, e.Time)
		for _, want := range []*deconflict.Party{p, epoch, zero} {
			got, err := tx.Party(ctx, want.ID)
			if err != nil {
				t.Fatalf("Party(%s): %v", want.ID, err)
			}
			check("Party("+want.ID+").CreatedAt", got.CreatedAt, want.CreatedAt)
		}
		gotTok, err := tx.TokenByHash(ctx, tok.Hash)
		if err != nil {
			t.Fatalf("TokenByHash: %v", err)
		}
		check("Token.CreatedAt", gotTok.CreatedAt, tok.CreatedAt)
		check("Token.RevokedAt", *gotTok.RevokedAt, *tok.RevokedAt)
		gotD, err := tx.Duty(ctx, d.ID)
		if err != nil {
			t.Fatalf("Duty: %v", err)
		}
		check("Duty.CreatedAt", gotD.CreatedAt, d.CreatedAt)
		check("Duty.DueAt", *gotD.DueAt, *d.DueAt)
		check("Duty.AckedAt", *gotD.AckedAt, *d.AckedAt)
		check("Duty.RaisedAt", *gotD.RaisedAt, *d.RaisedAt)
		check("Duty.ClearedAt", *gotD.ClearedAt, *d.ClearedAt)
		gotM, err := tx.Message(ctx, m.ID)
		if err != nil {
			t.Fatalf("Message: %v", err)
		}
		check("Message.SentAt", gotM.SentAt, m.SentAt)
		check("Message.Acknowledged", *gotM.Acknowledged["bravo"], *m.Acknowledged["bravo"])
		gotW, err := tx.Webhook(ctx, w.Party, w.Name)
		if err != nil {
			t.Fatalf("Webhook: %v", err)
		}
		check("Webhook.CreatedAt", gotW.CreatedAt, w.CreatedAt)
		check("Webhook.UpdatedAt", gotW.UpdatedAt, w.UpdatedAt)
		check("Webhook.Delivery.LastAttempt", *gotW.Delivery.LastAttempt, *w.Delivery.LastAttempt)
		check("Webhook.Delivery.NextAttempt", *gotW.Delivery.NextAttempt, *w.Delivery.NextAttempt)
		check("Webhook.Delivery.FailingSince", *gotW.Delivery.FailingSince, *w.Delivery.FailingSince)
		return nil
	})
}

// CreateTokens stores n operator tokens of party alpha, "t0" to "t<n-1>",
// and revokes every revokeEvery-th of them from "t0" on (none if
// revokeEvery is 0): a store with revocations, for the tests and
// benchmarks of a store's revocation count.
func CreateTokens(tb testing.TB, s deconflict.Store, n, revokeEvery int) {
	tb.Helper()
	ctx := context.Background()
	err := s.Update(ctx, func(tx deconflict.Tx) error {
		for i := range n {
			tok := &deconflict.Token{ID: fmt.Sprint("t", i), Hash: []byte(fmt.Sprintf("hash%032d", i)),
				Role: deconflict.RoleOperator, Party: "alpha", CreatedAt: time.Now()}
			if err := tx.CreateToken(ctx, tok); err != nil {
				return err
			}
			if revokeEvery > 0 && i%revokeEvery == 0 {
				if err := tx.RevokeToken(ctx, tok.ID, time.Now()); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("create %d tokens: %v", n, err)
	}
}

// CheckMigratedRevocations checks a store whose revocation count was just
// made by a migration from the tokens CreateTokens(…, 5, 2) left (t0, t2
// and t4 revoked): it counts 3, and one more revocation (t1) makes 4.
func CheckMigratedRevocations(t *testing.T, s interface {
	deconflict.Store
	deconflict.RevocationCounter
}) {
	t.Helper()
	ctx := t.Context()
	if n, err := s.RevokedTokens(ctx); err != nil || n != 3 {
		t.Fatalf("RevokedTokens after the migration = %d, %v; want 3", n, err)
	}
	if err := s.Update(ctx, func(tx deconflict.Tx) error { return tx.RevokeToken(ctx, "t1", time.Now()) }); err != nil {
		t.Fatal(err)
	}
	if n, err := s.RevokedTokens(ctx); err != nil || n != 4 {
		t.Fatalf("RevokedTokens after one more revocation = %d, %v; want 4", n, err)
	}
}
