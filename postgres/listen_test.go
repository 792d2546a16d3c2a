package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/storetest"
)

// TestListen has one replica hear the Updates of another.
func TestListen(t *testing.T) {
	u := newDatabase(t)
	a, b := MustOpen(t, u), MustOpen(t, u)
	ctx, cancel := context.WithCancel(t.Context())
	seqs := make(chan int64, 100)
	done := make(chan error, 1)
	go func() { done <- a.Listen(ctx, func(seq int64) { seqs <- seq }) }()
	want(t, seqs, 0, 5*time.Second) // listening

	// An Update without events, and one rolled back, notify nothing.
	if err := b.Update(ctx, func(tx deconflict.Tx) error {
		return tx.CreateParty(ctx, &deconflict.Party{ID: "alpha"})
	}); err != nil {
		t.Fatal(err)
	}
	b.Update(ctx, func(tx deconflict.Tx) error {
		tx.AppendEvent(ctx, &deconflict.Event{Type: deconflict.EventLineCheck, Time: time.Now()})
		return errors.New("rolled back")
	})
	for i := range 3 {
		start := time.Now()
		if err := storetest.Increment(ctx, b, 0, i); err != nil {
			t.Fatal(err)
		}
		want(t, seqs, int64(i+1), time.Second)
		t.Logf("notified in %v", time.Since(start))
	}
	// Two events in one Update: one notification, of the last.
	if err := b.Update(ctx, func(tx deconflict.Tx) error {
		for range 2 {
			if err := tx.AppendEvent(ctx, &deconflict.Event{Type: deconflict.EventLineCheck, Time: time.Now()}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want(t, seqs, 5, time.Second)
	select {
	case seq := <-seqs:
		t.Errorf("unexpected notification %d", seq)
	case <-time.After(200 * time.Millisecond):
	}
	cancel()
	if err := within(t, done, 5*time.Second, "Listen's return after its context ended"); err != nil {
		t.Errorf("Listen: %v", err)
	}
}

// want waits for the next value on c and checks it.
func want(t *testing.T, c <-chan int64, v int64, d time.Duration) {
	t.Helper()
	if got := within(t, c, d, fmt.Sprint("notification ", v)); got != v {
		t.Fatalf("notified %d, want %d", got, v)
	}
}

// within returns the next value on c, failing the test, which waited for
// what, if none comes within d.
func within[T any](t *testing.T, c <-chan T, d time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(d):
		t.Fatalf("no %s within %v", what, d)
		panic("unreachable")
	}
}

// TestListenReconnect cuts Listen's connection: it connects again, calls
// fn(0), and hears Updates again.
func TestListenReconnect(t *testing.T) {
	u := newDatabase(t)
	p := newProxy(t, u)
	a, b := MustOpen(t, p.url), MustOpen(t, u)
	var logged syncBuffer
	a.SetLogger(slog.New(slog.NewTextHandler(&logged, nil)))
	ctx := t.Context()
	seqs := make(chan int64, 100)
	go a.Listen(ctx, func(seq int64) { seqs <- seq })
	want(t, seqs, 0, 5*time.Second)
	if err := storetest.Increment(ctx, b, 0, 0); err != nil {
		t.Fatal(err)
	}
	want(t, seqs, 1, time.Second)

	p.cut()
	start := time.Now()
	want(t, seqs, 0, 3*time.Second)
	t.Logf("listening again after %v", time.Since(start))
	if err := storetest.Increment(ctx, b, 0, 1); err != nil {
		t.Fatal(err)
	}
	want(t, seqs, 2, time.Second)

	// The server gone for a while: Listen keeps trying, then hears again.
	p.stop()
	time.Sleep(2 * time.Second)
	p.restart()
	want(t, seqs, 0, 7*time.Second)
	if err := storetest.Increment(ctx, b, 0, 2); err != nil {
		t.Fatal(err)
	}
	want(t, seqs, 3, time.Second)
	// The operators were told: lost, and listening again.
	if log := logged.String(); !strings.Contains(log, "failed; trying again") || !strings.Contains(log, "listening for other replicas' commits again") {
		t.Errorf("Listen logged:\n%s", log)
	}
}
