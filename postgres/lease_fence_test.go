package postgres

import (
	"context"
	"errors"
	"testing"

	"github.com/deconflict/deconflict"
)

// heldIn runs l.HeldIn in a write transaction of db.
func heldIn(ctx context.Context, db *DB, l deconflict.Lease) error {
	return db.Update(ctx, func(tx deconflict.Tx) error { return l.(deconflict.FencedLease).HeldIn(ctx, tx) })
}

// TestLeaseHeldIn kills the session of a lease's connection while its
// holder has not noticed yet (Lost still open): another replica takes the
// lease, and from then on a write transaction of the first replica learns
// that it lost it, while the second's learns that it holds it, so that
// only one of them commits work done under the lease.
func TestLeaseHeldIn(t *testing.T) {
	u := newDatabase(t)
	a, b := MustOpen(t, u), MustOpen(t, u)
	ctx := t.Context()
	la, ok, err := a.TryLease(ctx, "federation")
	if err != nil || !ok {
		t.Fatalf("TryLease: %v, %v", ok, err)
	}
	defer la.Release()
	if err := heldIn(ctx, a, la); err != nil {
		t.Fatalf("the holder's write transaction: %v", err)
	}
	if err := b.Update(ctx, func(tx deconflict.Tx) error { return la.(*Lease).HeldIn(ctx, tx) }); err == nil || errors.Is(err, deconflict.ErrLeaseLost) {
		t.Errorf("asked in another DB's transaction: %v; want an error saying where to ask", err)
	}

	// The holder's watch cannot ping while the test holds its lock: it
	// does not notice, as during the second or three before a ping fails.
	lease := la.(*Lease)
	lease.mu.Lock()
	locked := true
	defer func() {
		if locked {
			lease.mu.Unlock()
		}
	}()
	if _, err := b.pool.Exec(ctx, "SELECT pg_terminate_backend($1)", int32(lease.pid)); err != nil {
		t.Fatal(err)
	}
	var lb deconflict.Lease
	for lb == nil { // the server lets the lock go once the session ended
		if l, ok, err := b.TryLease(ctx, "federation"); err != nil {
			t.Fatal(err)
		} else if ok {
			lb = l
		}
	}
	defer lb.Release()
	select {
	case <-la.Lost():
		t.Fatal("the holder noticed: the test proves nothing")
	default:
	}
	if err := heldIn(ctx, a, la); !errors.Is(err, deconflict.ErrLeaseLost) {
		t.Errorf("the first holder's write transaction after the lease moved: %v; want ErrLeaseLost", err)
	}
	if err := heldIn(ctx, b, lb); err != nil {
		t.Errorf("the new holder's write transaction: %v", err)
	}
	lease.mu.Unlock()
	locked = false
	<-la.Lost() // the ping fails
	if err := heldIn(ctx, a, la); !errors.Is(err, deconflict.ErrLeaseLost) {
		t.Errorf("after Lost: %v; want ErrLeaseLost", err)
	}
	lb.Release()
	if err := heldIn(ctx, b, lb); !errors.Is(err, deconflict.ErrLeaseLost) {
		t.Errorf("after Release: %v; want ErrLeaseLost", err)
	}
}
