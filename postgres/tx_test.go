package postgres

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/storetest"
	"github.com/jackc/pgx/v5/pgconn"
)

// checkSeqs checks that the events run 1…n.
func checkSeqs(t *testing.T, db *DB, n int) {
	t.Helper()
	ctx := t.Context()
	db.View(ctx, func(tx deconflict.Tx) error {
		es, err := tx.Events(ctx, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) != n {
			t.Errorf("%d events, want %d", len(es), n)
		}
		for i, e := range es {
			if e.Seq != int64(i+1) {
				t.Errorf("event %d has seq %d", i+1, e.Seq)
			}
		}
		return nil
	})
}

// TestCanceledWhileWaitingForLock checks that an Update whose context
// ends while it waits for the write lock, which another replica holds,
// gives up then, and that the store takes the next Update.
func TestCanceledWhileWaitingForLock(t *testing.T) {
	u := newDatabase(t)
	db, other := MustOpen(t, u), MustOpen(t, u)
	end := storetest.HoldUpdate(t, other)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := db.Update(ctx, func(tx deconflict.Tx) error {
		_, err := tx.LastSeq(ctx)
		return err
	})
	if err == nil {
		t.Error("Update whose context ended while waiting for the lock: no error")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Update waited %v for the lock after its context ended", d)
	}
	if err := end(); err != nil {
		t.Fatal(err)
	}
	if err := storetest.Increment(t.Context(), db, 0, 0); err != nil {
		t.Fatalf("Update after a canceled wait: %v", err)
	}
}

// TestRollbackKeepsSeqs checks that a rolled-back Update leaves no gap.
func TestRollbackKeepsSeqs(t *testing.T) {
	db := MustOpen(t, "")
	ctx := t.Context()
	if err := storetest.Increment(ctx, db, 0, 0); err != nil {
		t.Fatal(err)
	}
	errNo := errors.New("no")
	err := db.Update(ctx, func(tx deconflict.Tx) error {
		if err := tx.AppendEvent(ctx, &deconflict.Event{Type: deconflict.EventLineCheck, Time: time.Now()}); err != nil {
			return err
		}
		return errNo
	})
	if !errors.Is(err, errNo) {
		t.Fatalf("Update: %v, want %v", err, errNo)
	}
	if err := storetest.Increment(ctx, db, 0, 1); err != nil {
		t.Fatal(err)
	}
	storetest.CheckIncrements(t, db, 2)
}

// TestEventDataBytes checks that event data comes back byte for byte, as
// the record hashes it: not normalised as jsonb would.
func TestEventDataBytes(t *testing.T) {
	db := MustOpen(t, "")
	ctx := t.Context()
	datas := []string{`{"b":1,  "a":[1.0,2e3], "a":"dup"}`, "{\n\t\"x\" : \"\\u00e9\"\n}", `null`, `"é"`}
	if err := db.Update(ctx, func(tx deconflict.Tx) error {
		for _, d := range datas {
			if err := tx.AppendEvent(ctx, &deconflict.Event{Type: deconflict.EventLineCheck, Time: time.Now(), Data: []byte(d)}); err != nil {
				return err
			}
		}
		return tx.AppendEvent(ctx, &deconflict.Event{Type: deconflict.EventLineCheck, Time: time.Now()})
	}); err != nil {
		t.Fatal(err)
	}
	db.View(ctx, func(tx deconflict.Tx) error {
		es, err := tx.Events(ctx, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		for i, d := range datas {
			if got := string(es[i].Data); got != d {
				t.Errorf("event %d data = %q, want %q", i+1, got, d)
			}
		}
		if es[len(datas)].Data != nil {
			t.Errorf("event without data has data %q", es[len(datas)].Data)
		}
		return nil
	})
}

// TestWriteLock checks that an Update holds the write lock from its start,
// before it writes anything, against writers on other connections.
func TestWriteLock(t *testing.T) {
	db := MustOpen(t, "")
	ctx := t.Context()
	end := storetest.HoldUpdate(t, db)
	var got bool
	err := db.pool.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", writeLockKey).Scan(&got)
	if err := end(); err != nil {
		t.Fatal(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if got {
		t.Error("another connection took the write lock while an Update that had only read was under way")
	}
}

// TestFailedStatementFailsCommit checks that an Update whose fn swallowed
// a failed statement reports the rollback PostgreSQL makes of it.
func TestFailedStatementFailsCommit(t *testing.T) {
	db := MustOpen(t, "")
	ctx := t.Context()
	err := db.Update(ctx, func(dtx deconflict.Tx) error {
		if err := dtx.CreateParty(ctx, &deconflict.Party{ID: "alpha"}); err != nil {
			return err
		}
		_, err := dtx.(*tx).conn.Exec(ctx, "SELECT 1/0")
		if err == nil {
			t.Error("SELECT 1/0: no error")
		}
		return nil // swallowed
	})
	if err == nil {
		t.Error("Update after a failed statement: no error")
	}
	db.View(ctx, func(tx deconflict.Tx) error {
		if _, err := tx.Party(ctx, "alpha"); deconflict.ErrorCode(err) != deconflict.ENotFound {
			t.Errorf("party of a failed Update: %v", err)
		}
		return nil
	})
	if err := storetest.Increment(ctx, db, 0, 0); err != nil {
		t.Fatalf("Update after a failed one: %v", err)
	}
}

// TestUpdateRetries checks that Update runs fn again after a
// serialization failure or a deadlock, a bounded number of times, and not
// after other errors.
func TestUpdateRetries(t *testing.T) {
	db := MustOpen(t, "")
	ctx := t.Context()
	calls := 0
	err := db.Update(ctx, func(tx deconflict.Tx) error {
		calls++
		if err := tx.AppendEvent(ctx, &deconflict.Event{Type: deconflict.EventLineCheck, Time: time.Now()}); err != nil {
			return err
		}
		if calls < 3 {
			return fmt.Errorf("wrapped: %w", &pgconn.PgError{Code: []string{"40001", "40P01"}[calls-1]})
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Errorf("Update failing twice then not: %v after %d calls, want nil after 3", err, calls)
	}
	checkSeqs(t, db, 1)

	calls = 0
	err = db.Update(ctx, func(deconflict.Tx) error { calls++; return &pgconn.PgError{Code: "40001"} })
	if !retryable(err) || calls != maxRetries+1 {
		t.Errorf("Update failing always: %v after %d calls, want a serialization failure after %d", err, calls, maxRetries+1)
	}
	calls = 0
	err = db.Update(ctx, func(deconflict.Tx) error { calls++; return &pgconn.PgError{Code: "23505"} })
	if err == nil || calls != 1 {
		t.Errorf("Update failing with a unique violation: %v after %d calls, want it after 1", err, calls)
	}
}
