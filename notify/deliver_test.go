package notify

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
)

func TestDeliverInOrderSubscribedVisible(t *testing.T) {
	ctx := context.Background()
	s := newFakeStore()
	clk := newClock()
	appendEvent(t, s, dc.EventOperationDeclared) // before the webhooks: not delivered
	ra, rb := newReceiver(t, nil), newReceiver(t, nil)
	wa := addHook(t, s, "alpha", "ops", ra.srv.URL+"/hook", dc.EventOperationDeclared, dc.EventConflictOpened)
	wb := addHook(t, s, "bravo", "conf", rb.srv.URL, dc.EventConflictOpened)

	appendEvent(t, s, dc.EventOperationDeclared)                // 2: alpha
	appendEvent(t, s, dc.EventOperationUpdated)                 // 3: nobody subscribes
	appendEvent(t, s, dc.EventConflictOpened, "alpha", "bravo") // 4: alpha, bravo
	appendEvent(t, s, dc.EventConflictOpened, "bravo")          // 5: bravo
	appendEvent(t, s, dc.EventOperationDeclared, "alpha")       // 6: alpha
	appendEvent(t, s, dc.EventHotlineMessage, "alpha")          // 7: nobody subscribes

	d := New(s, Options{Allow: loopback, Now: clk.Now, Logger: quiet()})
	n, err := d.DeliverOnce(ctx)
	if err != nil || n != 5 {
		t.Fatalf("DeliverOnce = %d, %v; want 5", n, err)
	}
	for _, c := range []struct {
		rc   *receiver
		w    *dc.Webhook
		want []string
	}{{ra, wa, []string{"evt_2", "evt_4", "evt_6"}}, {rb, wb, []string{"evt_4", "evt_5"}}} {
		got := c.rc.got()
		if !slices.Equal(ids(got), c.want) {
			t.Fatalf("%s received %v, want %v", c.w.Name, ids(got), c.want)
		}
		for i, r := range got {
			var seq int64
			fmt.Sscanf(c.want[i], "evt_%d", &seq)
			if want := eventBody(t, s, seq); !bytes.Equal(r.body, want) {
				t.Errorf("body of %s = %s, want %s", c.want[i], r.body, want)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if ts := r.header.Get(HeaderTimestamp); ts != fmt.Sprint(clk.Now().Unix()) {
				t.Errorf("webhook-timestamp %q, want %d", ts, clk.Now().Unix())
			}
			if err := Verify(c.w.Secret, r.header, r.body, clk.Now(), time.Minute); err != nil {
				t.Errorf("Verify %s: %v", c.want[i], err)
			}
		}
		st := getHook(t, s, c.w.Party, c.w.Name).Delivery
		if st.DeliveredSeq != 7 || st.Delivered != int64(len(c.want)) || st.Attempts != 0 || st.LastStatus != 200 ||
			st.LastAttempt == nil || !st.LastAttempt.Equal(clk.Now()) || st.NextAttempt != nil || st.FailingSince != nil {
			t.Errorf("%s delivery state %+v", c.w.Name, st)
		}
	}
	if n, err := d.DeliverOnce(ctx); n != 0 || err != nil || len(ra.got())+len(rb.got()) != 5 {
		t.Fatalf("second DeliverOnce = %d, %v: something delivered twice", n, err)
	}
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestReceiverDownThenBack(t *testing.T) {
	ctx := context.Background()
	s := newFakeStore()
	clk := newClock()
	var up atomic.Bool
	rc := newReceiver(t, func(int, *http.Request) int {
		if up.Load() {
			return http.StatusNoContent
		}
		return http.StatusServiceUnavailable
	})
	w := addHook(t, s, "alpha", "ops", strings.Replace(rc.srv.URL, "http://", "http://hookuser:pw-hunter3@", 1)+"/hook?token=hunter2", dc.EventOperationDeclared)
	for range 3 {
		appendEvent(t, s, dc.EventOperationDeclared)
	}
	var logs syncBuffer
	const maxBackoff = 5 * time.Second
	d := New(s, Options{Allow: loopback, Now: clk.Now, MaxBackoff: maxBackoff,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})

	failedAt := clk.Now()
	for attempt := 1; attempt <= 6; attempt++ {
		n, err := d.DeliverOnce(ctx)
		if n != 0 || err != nil {
			t.Fatalf("attempt %d: DeliverOnce = %d, %v", attempt, n, err)
		}
		st := getHook(t, s, "alpha", "ops").Delivery
		if st.Attempts != attempt || st.LastStatus != 0 || st.LastError != FailStatus || st.DeliveredSeq != 0 ||
			st.Delivered != 0 || st.FailingSince == nil || !st.FailingSince.Equal(failedAt) || st.NextAttempt == nil {
			t.Fatalf("attempt %d: delivery state %+v", attempt, st)
		}
		base := min(maxBackoff, time.Second<<(attempt-1))
		wait := st.NextAttempt.Sub(clk.Now())
		if wait < base*8/10 || wait > base*12/10 {
			t.Fatalf("attempt %d: retry in %v, want %v ±20%%", attempt, wait, base)
		}
		// Not due yet: nothing is sent.
		clk.Set(st.NextAttempt.Add(-time.Millisecond))
		if n, err := d.DeliverOnce(ctx); n != 0 || err != nil || len(rc.got()) != attempt {
			t.Fatalf("attempt %d: sent before its retry time (%d requests)", attempt, len(rc.got()))
		}
		clk.Set(*st.NextAttempt)
	}
	up.Store(true)
	n, err := d.DeliverOnce(ctx)
	if n != 3 || err != nil {
		t.Fatalf("after recovery: DeliverOnce = %d, %v; want 3", n, err)
	}
	got := rc.got()
	want := []string{"evt_1", "evt_1", "evt_1", "evt_1", "evt_1", "evt_1", "evt_1", "evt_2", "evt_3"}
	if !slices.Equal(ids(got), want) {
		t.Fatalf("received %v, want %v", ids(got), want)
	}
	for i, r := range got {
		ts := r.header.Get(HeaderTimestamp)
		var unix int64
		fmt.Sscan(ts, &unix)
		if err := Verify(w.Secret, r.header, r.body, time.Unix(unix, 0), time.Second); err != nil {
			t.Errorf("request %d: %v", i, err)
		}
	}
	st := getHook(t, s, "alpha", "ops").Delivery
	if st.DeliveredSeq != 3 || st.Delivered != 3 || st.Attempts != 0 || st.FailingSince != nil || st.NextAttempt != nil ||
		st.LastError != "" || st.LastStatus != 204 {
		t.Fatalf("delivery state after recovery %+v", st)
	}
	out := logs.String()
	if !strings.Contains(out, "webhook failing") || !strings.Contains(out, "webhook recovered") {
		t.Errorf("failures not logged:\n%s", out)
	}
	for _, secret := range []string{w.Secret, strings.TrimPrefix(w.Secret, "whsec_"), "hunter2", "hunter3", "hookuser", `"note"`, "/hook"} {
		if strings.Contains(out, secret) {
			t.Errorf("log holds %q:\n%s", secret, out)
		}
	}
}

func TestReceiverClosedThenBack(t *testing.T) {
	ctx := context.Background()
	s := newFakeStore()
	clk := newClock()
	addr := closedAddr(t)
	addHook(t, s, "alpha", "ops", "http://"+addr+"/hook", dc.EventOperationDeclared)
	appendEvent(t, s, dc.EventOperationDeclared)
	appendEvent(t, s, dc.EventOperationDeclared)
	d := New(s, Options{Allow: loopback, Now: clk.Now, Logger: quiet()})

	if n, err := d.DeliverOnce(ctx); n != 0 || err != nil {
		t.Fatalf("DeliverOnce = %d, %v", n, err)
	}
	st := getHook(t, s, "alpha", "ops").Delivery
	if st.Attempts != 1 || st.LastStatus != 0 || st.LastError != FailConnect || st.NextAttempt == nil {
		t.Fatalf("delivery state %+v", st)
	}

	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	rc := &receiver{}
	rc.srv = httptest.NewUnstartedServer(rc)
	rc.srv.Listener.Close()
	rc.srv.Listener = l
	rc.srv.Start()
	defer rc.srv.Close()

	clk.Set(*st.NextAttempt)
	if n, err := d.DeliverOnce(ctx); n != 2 || err != nil {
		t.Fatalf("after the receiver came back: DeliverOnce = %d, %v; want 2", n, err)
	}
	if got := ids(rc.got()); !slices.Equal(got, []string{"evt_1", "evt_2"}) {
		t.Fatalf("received %v", got)
	}
}

// TestRunRetriesAtNextAttempt: Run wakes for a retry without a poll or a
// signal.
func TestRunRetriesAtNextAttempt(t *testing.T) {
	s := newFakeStore()
	rc := newReceiver(t, func(n int, _ *http.Request) int {
		if n < 2 {
			return http.StatusBadGateway
		}
		return http.StatusOK
	})
	addHook(t, s, "alpha", "ops", rc.srv.URL, dc.EventOperationDeclared)
	appendEvent(t, s, dc.EventOperationDeclared)
	d := New(s, Options{Allow: loopback, Poll: time.Hour, MaxBackoff: 20 * time.Millisecond, Logger: quiet()})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	waitFor(t, "the third attempt", func() bool { return len(rc.got()) == 3 })
	waitFor(t, "the delivery state", func() bool { return getHook(t, s, "alpha", "ops").Delivery.Delivered == 1 })
	cancel()
	<-done
	if got := ids(rc.got()); !slices.Equal(got, []string{"evt_1", "evt_1", "evt_1"}) {
		t.Fatalf("received %v", got)
	}
}

func TestSlowReceiverDoesNotDelayOthers(t *testing.T) {
	s := newFakeStore()
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	slow := newReceiver(t, func(_ int, r *http.Request) int {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return http.StatusOK
	})
	t.Cleanup(unblock) // runs before the servers close
	fast := newReceiver(t, nil)
	addHook(t, s, "alpha", "slow", slow.srv.URL, dc.EventOperationDeclared)
	addHook(t, s, "bravo", "fast", fast.srv.URL, dc.EventOperationDeclared)
	var sig signal
	d := New(s, Options{Allow: loopback, Changed: sig.Changed, Poll: time.Hour, Logger: quiet()})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()

	appendEvent(t, s, dc.EventOperationDeclared)
	sig.notify()
	waitFor(t, "evt_1 at the fast receiver", func() bool { return len(fast.got()) == 1 })
	waitFor(t, "evt_1 at the slow receiver", func() bool { return len(slow.got()) == 1 })
	appendEvent(t, s, dc.EventOperationDeclared)
	sig.notify()
	waitFor(t, "evt_2 at the fast receiver", func() bool { return len(fast.got()) == 2 })
	if n := len(slow.got()); n != 1 {
		t.Fatalf("slow receiver got %d requests while blocked", n)
	}
	unblock()
	waitFor(t, "evt_2 at the slow receiver", func() bool { return len(slow.got()) == 2 })
	waitFor(t, "the slow delivery state", func() bool { return getHook(t, s, "alpha", "slow").Delivery.Delivered == 2 })
	cancel()
	<-done
	for _, rc := range []*receiver{slow, fast} {
		if got := ids(rc.got()); !slices.Equal(got, []string{"evt_1", "evt_2"}) {
			t.Errorf("received %v", got)
		}
	}
}

func TestConcurrencyBounded(t *testing.T) {
	s := newFakeStore()
	var inFlight, most atomic.Int32
	rc := newReceiver(t, func(int, *http.Request) int {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(50 * time.Millisecond)
		return http.StatusOK
	})
	const maxConcurrent = 5
	for i := range 12 {
		addHook(t, s, []string{"alpha", "bravo"}[i%2], fmt.Sprintf("h%02d", i), rc.srv.URL, dc.EventOperationDeclared)
	}
	appendEvent(t, s, dc.EventOperationDeclared)
	n, err := New(s, Options{Allow: loopback, Logger: quiet(), MaxConcurrent: maxConcurrent}).DeliverOnce(context.Background())
	if n != 12 || err != nil {
		t.Fatalf("DeliverOnce = %d, %v", n, err)
	}
	if m := most.Load(); m > maxConcurrent || m < 2 {
		t.Fatalf("%d deliveries at once, want 2..%d", m, maxConcurrent)
	}
}

func TestRestart(t *testing.T) {
	s := newFakeStore()
	clk := newClock()
	ctx1, crash := context.WithCancel(context.Background())
	var failing atomic.Bool
	rc := newReceiver(t, func(n int, r *http.Request) int {
		if r.Header.Get(HeaderID) == "evt_2" && n == 1 {
			crash() // the process dies with evt_2 in flight
			<-r.Context().Done()
		}
		if failing.Load() {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	addHook(t, s, "alpha", "ops", rc.srv.URL, dc.EventOperationDeclared)
	for range 3 {
		appendEvent(t, s, dc.EventOperationDeclared)
	}
	n, err := New(s, Options{Allow: loopback, Now: clk.Now, Logger: quiet()}).DeliverOnce(ctx1)
	if n != 1 || err != nil {
		t.Fatalf("first run: DeliverOnce = %d, %v; want 1", n, err)
	}
	if st := getHook(t, s, "alpha", "ops").Delivery; st.DeliveredSeq != 1 || st.Delivered != 1 || st.Attempts != 0 {
		t.Fatalf("state after the crash %+v", st)
	}

	n, err = New(s, Options{Allow: loopback, Now: clk.Now, Logger: quiet()}).DeliverOnce(context.Background())
	if n != 2 || err != nil {
		t.Fatalf("second run: DeliverOnce = %d, %v; want 2", n, err)
	}
	if got := ids(rc.got()); !slices.Equal(got, []string{"evt_1", "evt_2", "evt_2", "evt_3"}) {
		t.Fatalf("received %v", got)
	}

	// A failure's retry time survives a restart too.
	failing.Store(true)
	appendEvent(t, s, dc.EventOperationDeclared)
	if n, err := New(s, Options{Allow: loopback, Now: clk.Now, Logger: quiet()}).DeliverOnce(context.Background()); n != 0 || err != nil {
		t.Fatalf("third run: %d, %v", n, err)
	}
	failing.Store(false)
	d := New(s, Options{Allow: loopback, Now: clk.Now, Logger: quiet()})
	if n, _ := d.DeliverOnce(context.Background()); n != 0 || len(rc.got()) != 5 {
		t.Fatalf("a new deliverer retried before NextAttempt")
	}
	clk.Add(2 * time.Second)
	if n, err := d.DeliverOnce(context.Background()); n != 1 || err != nil {
		t.Fatalf("retry after restart: %d, %v", n, err)
	}
	if got := ids(rc.got()); !slices.Equal(got[4:], []string{"evt_4", "evt_4"}) {
		t.Fatalf("received %v", got)
	}
	if st := getHook(t, s, "alpha", "ops").Delivery; st.DeliveredSeq != 4 || st.Delivered != 4 {
		t.Fatalf("final state %+v", st)
	}
}

func TestDeletedOrChangedWhileDelivering(t *testing.T) {
	ctx := context.Background()
	s := newFakeStore()
	rc := newReceiver(t, func(n int, r *http.Request) int {
		if n == 0 {
			err := s.Update(ctx, func(tx dc.Tx) error { return tx.DeleteWebhook(ctx, "alpha", "gone") })
			if err != nil {
				t.Error(err)
			}
		}
		return http.StatusOK
	})
	addHook(t, s, "alpha", "gone", rc.srv.URL, dc.EventOperationDeclared)

	moved := newReceiver(t, nil)
	old := newReceiver(t, func(n int, r *http.Request) int {
		if n == 0 { // the head changes the URL and events, as mechanism.Webhooks.Put does
			err := s.Update(ctx, func(tx dc.Tx) error {
				w, err := tx.Webhook(ctx, "bravo", "moving")
				if err != nil {
					return err
				}
				w.URL, w.Events = moved.srv.URL, []string{dc.EventOperationDeclared, dc.EventConflictOpened}
				return tx.PutWebhook(ctx, w)
			})
			if err != nil {
				t.Error(err)
			}
		}
		return http.StatusOK
	})
	addHook(t, s, "bravo", "moving", old.srv.URL, dc.EventOperationDeclared)

	appendEvent(t, s, dc.EventOperationDeclared)
	appendEvent(t, s, dc.EventConflictOpened)
	appendEvent(t, s, dc.EventOperationDeclared)
	n, err := New(s, Options{Allow: loopback, Logger: quiet()}).DeliverOnce(ctx)
	if err != nil || n != 3 {
		t.Fatalf("DeliverOnce = %d, %v; want 3", n, err)
	}
	if got := ids(rc.got()); !slices.Equal(got, []string{"evt_1"}) {
		t.Fatalf("deleted webhook received %v", got)
	}
	err = s.View(ctx, func(tx dc.Tx) error {
		_, err := tx.Webhook(ctx, "alpha", "gone")
		return err
	})
	if dc.ErrorCode(err) != dc.ENotFound {
		t.Fatalf("deleted webhook resurrected: %v", err)
	}
	if got := ids(old.got()); !slices.Equal(got, []string{"evt_1"}) {
		t.Fatalf("old URL received %v", got)
	}
	if got := ids(moved.got()); !slices.Equal(got, []string{"evt_2", "evt_3"}) {
		t.Fatalf("new URL received %v", got)
	}
	w := getHook(t, s, "bravo", "moving")
	if w.URL != moved.srv.URL || len(w.Events) != 2 || w.Delivery.DeliveredSeq != 3 || w.Delivery.Delivered != 3 {
		t.Fatalf("changed webhook %+v", w)
	}
}

func TestFailingEventUnsubscribed(t *testing.T) {
	ctx := context.Background()
	s := newFakeStore()
	clk := newClock()
	rc := newReceiver(t, func(int, *http.Request) int { return http.StatusInternalServerError })
	addHook(t, s, "alpha", "ops", rc.srv.URL, dc.EventOperationDeclared, dc.EventConflictOpened)
	appendEvent(t, s, dc.EventConflictOpened)
	d := New(s, Options{Allow: loopback, Now: clk.Now, Logger: quiet()})
	if n, err := d.DeliverOnce(ctx); n != 0 || err != nil {
		t.Fatalf("DeliverOnce = %d, %v", n, err)
	}
	// The head stops subscribing to the failing event's type.
	err := s.Update(ctx, func(tx dc.Tx) error {
		w, err := tx.Webhook(ctx, "alpha", "ops")
		if err != nil {
			return err
		}
		w.Events = []string{dc.EventOperationDeclared}
		return tx.PutWebhook(ctx, w)
	})
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Hour)
	if n, err := d.DeliverOnce(ctx); n != 0 || err != nil {
		t.Fatalf("DeliverOnce = %d, %v", n, err)
	}
	st := getHook(t, s, "alpha", "ops").Delivery
	if st.DeliveredSeq != 1 || st.Attempts != 0 || st.FailingSince != nil || st.NextAttempt != nil || len(rc.got()) != 1 {
		t.Fatalf("delivery state %+v, %d requests", st, len(rc.got()))
	}
}
