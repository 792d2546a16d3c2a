package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
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
	putAll(t, s, deconflict.Tx.AppendEvent, e)
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
	incrementAtOnce(t, slices.Repeat([]deconflict.Store{s}, workers), each)
	CheckIncrements(t, s, workers*each)
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
	putAll(t, s, deconflict.Tx.AppendEvent, e)
	if e.Seq != before.LastSeq+1 {
		t.Errorf("AppendEvent after reopening: Seq %d, want %d", e.Seq, before.LastSeq+1)
	}
	s = f.Reopen(t, s)
	if got := lastSeq(t, s); got != before.LastSeq+1 {
		t.Errorf("LastSeq after reopening again: %d, want %d", got, before.LastSeq+1)
	}
}

// testViewReadOnly checks that a View cannot write.
func testViewReadOnly(t *testing.T, f Factory) {
	s := f.Open(t)
	ctx := t.Context()
	if err := s.View(ctx, func(tx deconflict.Tx) error {
		return tx.CreateParty(ctx, &deconflict.Party{ID: "alpha", CreatedAt: at(0)})
	}); err == nil {
		t.Fatal("CreateParty in a View: no error")
	}
	view(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		if _, err := tx.Party(ctx, "alpha"); deconflict.ErrorCode(err) != deconflict.ENotFound {
			t.Errorf("party written in a View: %v", err)
		}
		return nil
	})
}

// testContextCanceled checks that an Update whose context ended, before
// it began or while fn ran, fails and keeps nothing, and that the store
// takes the next Update.
func testContextCanceled(t *testing.T, f Factory) {
	s := f.Open(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := s.Update(ctx, func(tx deconflict.Tx) error {
		return tx.CreateParty(ctx, &deconflict.Party{ID: "alpha", CreatedAt: at(0)})
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Update with a canceled context: %v, want context.Canceled", err)
	}
	ctx, cancel = context.WithCancel(t.Context())
	err = s.Update(ctx, func(tx deconflict.Tx) error {
		if err := tx.CreateParty(ctx, &deconflict.Party{ID: "bravo", CreatedAt: at(0)}); err != nil {
			return err
		}
		cancel()
		return nil
	})
	if err == nil {
		t.Errorf("Update whose context was canceled before commit: no error")
	}
	if ps := read(t, s, func(ctx context.Context, tx deconflict.Tx) ([]*deconflict.Party, error) { return tx.Parties(ctx) }); len(ps) != 0 {
		t.Errorf("parties after canceled Updates: %d, want none", len(ps))
	}
	if err := Increment(t.Context(), s, 0, 0); err != nil {
		t.Fatalf("Update after canceled ones: %v", err)
	}
}
