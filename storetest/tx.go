package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

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

func testRollback(t *testing.T, f Factory) {
	s := f.Open(t)
	ctx := t.Context()
	boom := errors.New("boom")
	for _, populated := range []bool{false, true} {
		if populated {
			populate(t, s)
		}
		before := readContents(t, s)
		err := s.Update(ctx, func(tx deconflict.Tx) error {
			if populated {
				if err := tx.RevokeToken(ctx, "tok-alpha", at(50)); err != nil {
					return err
				}
				if err := tx.PutDelivery(ctx, "bravo", "hook-1", newDelivery(50)); err != nil {
					return err
				}
				if err := tx.DeleteWebhook(ctx, "alpha", "hook-2"); err != nil {
					return err
				}
			}
			if err := writeEverything(ctx, tx); err != nil {
				return err
			}
			return fmt.Errorf("failing on purpose: %w", boom)
		})
		if !errors.Is(err, boom) {
			t.Errorf("Update with fn failing: error %v, want the error of fn", err)
		}
		equal(t, fmt.Sprintf("contents after a failed Update (populated %v)", populated), readContents(t, s), before)
	}
	// The sequence numbers of the events rolled back are handed out again.
	e := &deconflict.Event{Type: deconflict.EventLineCheck, Time: at(0)}
	appendEvents(t, s, e)
	if e.Seq != 6 {
		t.Errorf("AppendEvent after a failed Update: Seq %d, want 6", e.Seq)
	}
}

func testRollbackOnPanic(t *testing.T, f Factory) {
	s := f.Open(t)
	populate(t, s)
	before := readContents(t, s)
	ctx := t.Context()
	var err error
	panicked := func() (p bool) {
		defer func() { p = recover() != nil }()
		err = s.Update(ctx, func(tx deconflict.Tx) error {
			if err := writeEverything(ctx, tx); err != nil {
				return err
			}
			panic("storetest: panic on purpose")
		})
		return false
	}()
	if !panicked && err == nil {
		t.Errorf("Update with fn panicking returned nil")
	}
	equal(t, "contents after a panic in Update", readContents(t, s), before)

	// The store is not left locked.
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := s.Update(ctx, func(tx deconflict.Tx) error {
		return tx.CreateParty(ctx, &deconflict.Party{ID: "after", CreatedAt: at(0)})
	}); err != nil {
		t.Fatalf("Update after a panic: %v", err)
	}
}

func testViewSeesCommitted(t *testing.T, f Factory) {
	s := f.Open(t)
	for i := range 5 {
		id := fmt.Sprint("p", i)
		update(t, s, func(ctx context.Context, tx deconflict.Tx) error {
			if err := tx.CreateParty(ctx, &deconflict.Party{ID: id, CreatedAt: at(i)}); err != nil {
				return err
			}
			return tx.AppendEvent(ctx, &deconflict.Event{Type: deconflict.EventPartyAdded, Time: at(i)})
		})
		view(t, s, func(ctx context.Context, tx deconflict.Tx) error {
			if _, err := tx.Party(ctx, id); err != nil {
				t.Errorf("View after Update: Party(%s): %v", id, err)
			}
			if seq, err := tx.LastSeq(ctx); err != nil || seq != int64(i+1) {
				t.Errorf("View after Update: LastSeq = %d, %v; want %d", seq, err, i+1)
			}
			return nil
		})
	}
	// An Update sees what the one before it committed.
	update(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		ps, err := tx.Parties(ctx)
		if err != nil {
			return err
		}
		if len(ps) != 5 {
			t.Errorf("Update after Updates: %d parties, want 5", len(ps))
		}
		return nil
	})
}

// testViewSnapshot checks that a View keeps seeing one state while an
// Update commits. A store may instead make the Update wait for the View.
func testViewSnapshot(t *testing.T, f Factory) {
	s := f.Open(t)
	populate(t, s)
	var pending chan error
	view(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		before, err := tx.LastSeq(ctx)
		if err != nil {
			return err
		}
		done := make(chan error, 1)
		go func() {
			done <- s.Update(ctx, func(tx deconflict.Tx) error {
				return tx.AppendEvent(ctx, &deconflict.Event{Type: deconflict.EventLineCheck, Time: at(0)})
			})
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Update during a View: %v", err)
			}
			after, err := tx.LastSeq(ctx)
			if err != nil {
				return err
			}
			if after != before {
				t.Errorf("View saw an Update that committed after its first read: LastSeq %d, then %d", before, after)
			}
			es, err := tx.Events(ctx, 0, 100)
			if err != nil {
				return err
			}
			if len(es) != int(before) {
				t.Errorf("View saw an Update that committed after its first read: %d events, want %d", len(es), before)
			}
		case <-time.After(3 * time.Second):
			t.Log("Update waits for the View to end")
			pending = done
		}
		return nil
	})
	if pending != nil {
		select {
		case err := <-pending:
			if err != nil {
				t.Errorf("Update after a View: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("Update still waits 30s after the View ended")
		}
	}
	if got := lastSeq(t, s); got != 6 {
		t.Errorf("LastSeq after the View: %d, want 6", got)
	}
}

// testConcurrentUpdates checks that Updates from many goroutines are
// serialised: read-modify-write loses nothing and event numbers have no
// gaps.
func testConcurrentUpdates(t *testing.T, f Factory) {
	s := f.Open(t)
	const workers, each = 8, 20
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make(chan error, 2*workers*each)
	for g := range workers {
		wg.Go(func() {
			for i := range each {
				errs <- s.Update(ctx, func(tx deconflict.Tx) error {
					st, err := tx.Settings(ctx)
					if err != nil {
						return err
					}
					last, err := tx.LastSeq(ctx)
					if err != nil {
						return err
					}
					st.NoticeS++
					if err := tx.PutSettings(ctx, st); err != nil {
						return err
					}
					e := &deconflict.Event{Type: deconflict.EventHotlineMessage, Time: at(i),
						Data: json.RawMessage(fmt.Sprintf(`{"g":%d,"i":%d}`, g, i))}
					if err := tx.AppendEvent(ctx, e); err != nil {
						return err
					}
					if e.Seq != last+1 {
						return fmt.Errorf("AppendEvent after LastSeq %d set Seq %d", last, e.Seq)
					}
					return nil
				})
				// Readers alongside.
				errs <- s.View(ctx, func(tx deconflict.Tx) error {
					_, err := tx.Settings(ctx)
					return err
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Update or View: %v", err)
		}
	}
	c := readContents(t, s)
	if want := deconflict.DefaultSettings().NoticeS + workers*each; c.Settings.NoticeS != want {
		t.Errorf("counter after %d concurrent increments: %v, want %v", workers*each, c.Settings.NoticeS, want)
	}
	if c.LastSeq != workers*each || len(c.Events) != workers*each {
		t.Errorf("after %d concurrent AppendEvents: LastSeq %d, %d events", workers*each, c.LastSeq, len(c.Events))
	}
	seen := map[string]bool{}
	for i, e := range c.Events {
		if e.Seq != int64(i+1) {
			t.Errorf("event %d has Seq %d", i+1, e.Seq)
		}
		var key struct{ G, I int }
		if err := json.Unmarshal(e.Data, &key); err != nil {
			t.Fatalf("event %d: %v", e.Seq, err)
		}
		k := fmt.Sprint(key)
		if seen[k] {
			t.Errorf("event %s stored twice", k)
		}
		seen[k] = true
	}
}

// testReopen checks that what an Update committed is still there after the
// store is closed and opened again, and that numbering and cursors carry
// on.
func testReopen(t *testing.T, f Factory) {
	if f.Reopen == nil {
		t.Skip("storetest: Factory.Reopen is nil")
	}
	s := f.Open(t)
	populate(t, s)
	before := readContents(t, s)
	var page2 []*deconflict.Operation
	var next string
	view(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		var err error
		if _, next, err = tx.Operations(ctx, deconflict.OperationFilter{Limit: 2}); err != nil {
			return err
		}
		page2, _, err = tx.Operations(ctx, deconflict.OperationFilter{Limit: 2, After: next})
		return err
	})

	s = f.Reopen(t, s)
	equal(t, "contents after reopening", readContents(t, s), before)
	view(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		got, _, err := tx.Operations(ctx, deconflict.OperationFilter{Limit: 2, After: next})
		if err != nil {
			t.Fatalf("Operations with a cursor from before reopening: %v", err)
		}
		equal(t, "page after a cursor from before reopening", got, page2)
		return nil
	})

	e := &deconflict.Event{Type: deconflict.EventLineCheck, Time: at(0)}
	appendEvents(t, s, e)
	if e.Seq != before.LastSeq+1 {
		t.Errorf("AppendEvent after reopening: Seq %d, want %d", e.Seq, before.LastSeq+1)
	}
	s = f.Reopen(t, s)
	if got := lastSeq(t, s); got != before.LastSeq+1 {
		t.Errorf("LastSeq after reopening again: %d, want %d", got, before.LastSeq+1)
	}
}
