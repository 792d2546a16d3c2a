package postgres

import (
	"fmt"
	"testing"
	"time"

	"github.com/deconflict/deconflict"
)

// TestRowsSentTogether writes in one transaction what rows.go gathers
// into one statement per table: a duty put twice (an upsert meeting its
// key again), more events than one statement takes, log hashes, and an
// operation put twice. Everything reads back as written last, in order.
func TestRowsSentTogether(t *testing.T) {
	db := MustOpen(t, "")
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	due := now.Add(time.Hour)
	duty := &deconflict.Duty{ID: "d1", Subject: deconflict.Subject{Kind: "operation", ID: "op"}, Version: 1, Party: "alpha", CreatedAt: now, DueAt: &due}
	op := &deconflict.Operation{ID: "op", Party: "alpha", Version: 1, State: deconflict.StatePlanned, CreatedAt: now, UpdatedAt: now, Start: now, End: due}
	const events = maxRows + 5
	if err := db.Update(ctx, func(tx deconflict.Tx) error {
		if err := tx.PutLogHashes(ctx, 0, [][32]byte{{1}, {2}, {3}}); err != nil {
			return err
		}
		// The first event reads the last seq, which sends what is
		// queued; everything after it goes with the commit.
		for i := range events {
			if err := tx.AppendEvent(ctx, &deconflict.Event{Type: deconflict.EventLineCheck, Time: now, Data: []byte(fmt.Sprint(i))}); err != nil {
				return err
			}
		}
		if err := tx.PutOperation(ctx, op); err != nil {
			return err
		}
		if err := tx.PutDuty(ctx, duty); err != nil {
			return err
		}
		raised := *duty
		raised.Level = 1
		if err := tx.PutDuty(ctx, &raised); err != nil {
			return err
		}
		later := *op
		later.Version, later.State = 2, deconflict.StateActive
		return tx.PutOperation(ctx, &later)
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.View(ctx, func(tx deconflict.Tx) error {
		d, err := tx.Duty(ctx, "d1")
		if err != nil {
			return err
		}
		if d.Level != 1 {
			t.Errorf("the duty put twice reads level %d, want 1 (the second)", d.Level)
		}
		o, err := tx.Operation(ctx, "op")
		if err != nil {
			return err
		}
		if o.Version != 2 || o.State != deconflict.StateActive {
			t.Errorf("the operation put twice reads version %d %s, want 2 active", o.Version, o.State)
		}
		evs, err := tx.Events(ctx, 0, 10000)
		if err != nil {
			return err
		}
		if len(evs) != events {
			t.Fatalf("%d events, want %d", len(evs), events)
		}
		for i, e := range evs {
			if e.Seq != int64(i+1) || string(e.Data) != fmt.Sprint(i) {
				t.Fatalf("event %d: seq %d, data %s; want seq %d, data %d", i, e.Seq, e.Data, i+1, i)
			}
		}
		hs, err := tx.LogHashes(ctx, []int64{0, 1, 2})
		if err != nil {
			return err
		}
		if hs[0][0] != 1 || hs[2][0] != 3 {
			t.Errorf("log hashes %x %x, want 01… and 03…", hs[0][:1], hs[2][:1])
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestConflictRowsClash: in a batch under the write lock a conflict's row
// goes with the commit; a second conflict for a pair then fails the whole
// transaction with EExists, and nothing of it is kept.
func TestConflictRowsClash(t *testing.T) {
	db := MustOpen(t, "")
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	conflict := func(id string) *deconflict.Conflict {
		return &deconflict.Conflict{ID: id, Status: deconflict.ConflictOpen, Operations: [2]string{"a", "b"},
			Parties: [2]string{"alpha", "bravo"}, DetectedAt: now, UpdatedAt: now}
	}
	batch := func(fn func(tx deconflict.Tx) error) error {
		return db.Update(ctx, func(dtx deconflict.Tx) error {
			dtx.(deconflict.Prefetcher).Prefetch([]string{"a"}, 0)
			if _, err := dtx.Settings(ctx); err != nil { // the prefetch is read
				return err
			}
			if !dtx.(*tx).prefetchLoaded() {
				t.Fatal("the prefetch was not read")
			}
			return fn(dtx)
		})
	}
	if err := batch(func(tx deconflict.Tx) error { return tx.PutConflict(ctx, conflict("c1")) }); err != nil {
		t.Fatal(err)
	}
	err := batch(func(tx deconflict.Tx) error {
		if err := tx.AppendEvent(ctx, &deconflict.Event{Type: deconflict.EventLineCheck, Time: now}); err != nil {
			return err
		}
		return tx.PutConflict(ctx, conflict("c2"))
	})
	if deconflict.ErrorCode(err) != deconflict.EExists {
		t.Fatalf("a second conflict of a pair in a batch: %v, want already_exists", err)
	}
	if err := db.View(ctx, func(tx deconflict.Tx) error {
		last, err := tx.LastSeq(ctx)
		if err != nil {
			return err
		}
		if last != 0 {
			t.Errorf("the failed batch kept its event (last seq %d)", last)
		}
		cs, err := tx.ConflictsOf(ctx, "a")
		if err != nil {
			return err
		}
		if len(cs) != 1 || cs[0].ID != "c1" {
			t.Errorf("conflicts of the pair: %v, want c1 alone", cs)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
