package mechanism_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/mechanism"
)

// hangingStore is a store whose writes never commit: they wait until
// their context ends, as on PostgreSQL when a synchronous standby is gone
// or another session holds the write lock and stalls, while reads and
// pings still answer at once.
type hangingStore struct {
	dc.Store
	hang chan struct{} // closed: writes hang
}

func (h *hangingStore) Update(ctx context.Context, fn func(dc.Tx) error) error {
	select {
	case <-h.hang:
		<-ctx.Done()
		return ctx.Err()
	default:
		return h.Store.Update(ctx, fn)
	}
}

// TestReadyWritesHang: a store whose writes hang is not ready: a probe
// write that does not commit within its interval counts as a failed
// write, not as a caller that went away.
func TestReadyWritesHang(t *testing.T) {
	hs := &hangingStore{Store: freshStore(t), hang: make(chan struct{})}
	m, _ := openOn(t, hs, "alpha")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := m.Health().Ready(ctx); err != nil {
		t.Fatalf("a new store is not ready: %v", err)
	}
	close(hs.hang)
	done := make(chan struct{})
	go func() { defer close(done); m.Health().RunWriteProbes(ctx, 20*time.Millisecond) }()
	defer func() { cancel(); <-done }()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		err := m.Health().Ready(ctx)
		if err != nil && strings.Contains(err.Error(), "does not take writes") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still ready (%v) while every write hangs", err)
		}
	}
}

// orderedStore is a store whose first write commits but returns only when
// released, while the writes after it fail at once.
type orderedStore struct {
	dc.Store
	calls   atomic.Int32
	release chan struct{}
}

func (o *orderedStore) Update(ctx context.Context, fn func(dc.Tx) error) error {
	if o.calls.Add(1) == 1 {
		err := o.Store.Update(ctx, fn)
		<-o.release
		return err
	}
	return errors.New("disk I/O error")
}

// TestReadyFollowsTheLatestWrite: readiness follows the write that began
// last, whatever order the outcomes come back in. A write that began
// earlier and committed, but returned after a later one failed, does not
// make a store whose writes now fail ready.
func TestReadyFollowsTheLatestWrite(t *testing.T) {
	ctx := context.Background()
	st := &orderedStore{Store: freshStore(t), release: make(chan struct{})}
	m := mechanism.New(st, mechanism.Options{})
	st.calls.Store(0)
	first := make(chan error)
	go func() { first <- m.Health().ProbeWrite(ctx) }()
	for st.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	if err := m.Health().ProbeWrite(ctx); err == nil {
		t.Fatal("the second write did not fail")
	}
	close(st.release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := m.Health().Ready(ctx); err == nil || !strings.Contains(err.Error(), "does not take writes") {
		t.Fatalf("ready (%v) although the write that began last failed", err)
	}
}
