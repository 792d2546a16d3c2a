package postgres

import (
	"testing"
	"time"

	"github.com/deconflict/deconflict"
)

// mustLease takes the lease name on db, failing the test (which tried it
// when) unless it gets it.
func mustLease(t *testing.T, db *DB, name, when string) deconflict.Lease {
	t.Helper()
	l, ok, err := db.TryLease(t.Context(), name)
	if err != nil || !ok {
		t.Fatalf("TryLease %s: %v, %v", when, ok, err)
	}
	return l
}

// TestLease checks that a lease has one holder at a time.
func TestLease(t *testing.T) {
	u := newDatabase(t)
	a, b := MustOpen(t, u), MustOpen(t, u)
	ctx := t.Context()
	la := mustLease(t, a, "webhooks", "first")
	for _, db := range []*DB{b, a} {
		if l, ok, err := db.TryLease(ctx, "webhooks"); err != nil || ok {
			t.Errorf("TryLease of a held lease: %v, %v", ok, err)
			if ok {
				l.Release()
			}
		}
	}
	// Another name is another lease.
	lo := mustLease(t, b, "other", "of another name")
	lo.Release()

	select {
	case <-la.Lost():
		t.Fatal("lease lost while held")
	case <-time.After(1500 * time.Millisecond): // a ping or so
	}
	la.Release()
	la.Release() // again: nothing
	select {
	case <-la.Lost():
	default:
		t.Error("Lost not closed after Release")
	}
	lb := mustLease(t, b, "webhooks", "after Release")
	lb.Release()
	// The pool lost no connection to leases.
	if n := a.pool.Stat().AcquiredConns(); n != 0 {
		t.Errorf("%d connections acquired after Release", n)
	}
}

// TestLeaseLost cuts the connection of a lease: the holder learns it, and
// another replica takes the lease.
func TestLeaseLost(t *testing.T) {
	u := newDatabase(t)
	p := newProxy(t, u)
	a, b := MustOpen(t, p.url), MustOpen(t, u)
	ctx := t.Context()
	la := mustLease(t, a, "webhooks", "first")
	p.cut()
	start := time.Now()
	select {
	case <-la.Lost():
		t.Logf("lease lost noticed after %v", time.Since(start))
	case <-time.After(4 * time.Second):
		t.Fatal("lease not lost 4s after its connection was cut")
	}
	la.Release()
	deadline := time.Now().Add(5 * time.Second)
	for {
		lb, ok, err := b.TryLease(ctx, "webhooks")
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			lb.Release()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("lease of a cut connection still held after 5s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The first replica can take it again.
	la = mustLease(t, a, "webhooks", "after reconnecting")
	la.Release()
}
