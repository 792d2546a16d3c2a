package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/deconflict/deconflict"
)

// Increment adds one to a counter kept in the settings (TimeS) and
// appends an event naming the worker and the iteration, in one Update:
// the read-modify-write that CheckIncrements finds lost if two Updates
// ever interleave. It fails unless the event's seq follows the LastSeq
// the Update read.
func Increment(ctx context.Context, s deconflict.Store, worker, i int) error {
	return s.Update(ctx, func(tx deconflict.Tx) error {
		st, err := tx.Settings(ctx)
		if err != nil {
			return err
		}
		st.TimeS++
		if err := tx.PutSettings(ctx, st); err != nil {
			return err
		}
		last, err := tx.LastSeq(ctx)
		if err != nil {
			return err
		}
		e := &deconflict.Event{Type: deconflict.EventLineCheck, Time: time.Now(),
			Data: []byte(fmt.Sprintf(`{"worker":%d,"i":%d}`, worker, i))}
		if err := tx.AppendEvent(ctx, e); err != nil {
			return err
		}
		if e.Seq != last+1 {
			return fmt.Errorf("AppendEvent after LastSeq %d set Seq %d", last, e.Seq)
		}
		return nil
	})
}

// CheckIncrements checks that a store that held the default settings and
// no events has had n Increments since, none lost and none applied
// twice, and that its events run 1…n.
func CheckIncrements(t *testing.T, s deconflict.Store, n int) {
	t.Helper()
	view(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		st, err := tx.Settings(ctx)
		if err != nil {
			return err
		}
		if want := deconflict.DefaultSettings().TimeS + float64(n); st.TimeS != want {
			t.Errorf("counter = %v, want %v", st.TimeS, want)
		}
		es, err := tx.Events(ctx, 0, 100_000)
		if err != nil {
			return err
		}
		if len(es) != n {
			t.Errorf("%d events, want %d", len(es), n)
		}
		if last, err := tx.LastSeq(ctx); err != nil || last != int64(n) {
			t.Errorf("LastSeq = %d, %v; want %d", last, err, n)
		}
		seen := map[string]bool{}
		for i, e := range es {
			if e.Seq != int64(i+1) {
				t.Fatalf("event %d has seq %d", i+1, e.Seq)
			}
			if seen[string(e.Data)] {
				t.Errorf("event %s appended twice", e.Data)
			}
			seen[string(e.Data)] = true
		}
		return nil
	})
}

// incrementAtOnce runs each Increments on each of the stores, one
// goroutine a store and all at once, each with a View beside it, and
// fails the test on any error.
func incrementAtOnce(t *testing.T, stores []deconflict.Store, each int) {
	t.Helper()
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make(chan error, 2*len(stores)*each)
	for w, s := range stores {
		wg.Go(func() {
			for i := range each {
				errs <- Increment(ctx, s, w, i)
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
}

// OpenAtOnce opens n stores with open from n goroutines at once, as
// processes or replicas that start together do, fails the test unless
// every one opens, and closes them when the test ends.
func OpenAtOnce[S deconflict.Store](t *testing.T, n int, open func() (S, error)) []S {
	t.Helper()
	stores := make([]S, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = open() })
	}
	wg.Wait()
	for i, err := range errs {
		if err == nil {
			t.Cleanup(func() { stores[i].Close() })
		}
	}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d of %d at once: %v", i+1, n, err)
		}
	}
	return stores
}

// testSharedWrites has two stores on the same data (Factory.Share) write
// at once, as two processes or replicas would: no Update fails for the
// other's lock, none is lost, and both read events numbered 1…n.
func testSharedWrites(t *testing.T, f Factory) {
	if f.Share == nil {
		t.Skip("storetest: Factory.Share is nil")
	}
	a := f.Open(t)
	b := f.Share(t, a)
	const each = 40
	incrementAtOnce(t, []deconflict.Store{a, b, a, b}, each)
	CheckIncrements(t, a, 4*each)
	CheckIncrements(t, b, 4*each)
}

// HoldUpdate starts an Update of s that reads the settings and then
// waits, and returns once it is under way: from then on it holds whatever
// lock the store's writers take before they write, for a test of what
// another writer meets meanwhile. end lets the Update commit and returns
// its error.
func HoldUpdate(t testing.TB, s deconflict.Store) (end func() error) {
	t.Helper()
	ctx := context.Background()
	inTx, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.Update(ctx, func(tx deconflict.Tx) error {
			if _, err := tx.Settings(ctx); err != nil { // a read only
				return err
			}
			close(inTx)
			<-release
			return nil
		})
	}()
	select {
	case <-inTx:
	case err := <-done:
		t.Fatalf("Update to hold: %v", err)
	}
	return func() error {
		close(release)
		return <-done
	}
}
