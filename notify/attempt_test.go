package notify

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
)

func TestBackoff(t *testing.T) {
	d := New(newFakeStore(), Options{Allow: loopback, MaxBackoff: time.Minute})
	for _, c := range []struct {
		jitter   float64
		attempts int
		want     time.Duration
	}{
		{0.5, 1, time.Second}, {0.5, 2, 2 * time.Second}, {0.5, 4, 8 * time.Second}, {0.5, 6, 32 * time.Second},
		{0.5, 7, time.Minute}, {0.5, 40, time.Minute}, {0.5, 1 << 30, time.Minute},
		{0, 3, 3200 * time.Millisecond}, {1, 3, 4800 * time.Millisecond},
	} {
		d.jitter = func() float64 { return c.jitter }
		if got := d.backoff(c.attempts); got != c.want {
			t.Errorf("backoff(%d) with jitter %v = %v, want %v", c.attempts, c.jitter, got, c.want)
		}
	}
	if d := New(newFakeStore(), Options{}); d.opts.MaxBackoff != time.Hour || d.opts.Poll != time.Second ||
		d.opts.Timeout != 10*time.Second || d.opts.MaxConcurrent != DefaultMaxConcurrent || d.opts.PerParty != DefaultPerParty {
		t.Errorf("defaults %+v", d.opts)
	}
}

func TestBadSecretIsRetried(t *testing.T) {
	s := newFakeStore()
	clk := newClock()
	rc := newReceiver(t, nil)
	w := addHook(t, s, "alpha", "ops", rc.srv.URL, dc.EventOperationDeclared)
	w.Secret = "whsec_!!not base64!!"
	if err := s.Update(context.Background(), func(tx dc.Tx) error { return tx.PutWebhook(context.Background(), w) }); err != nil {
		t.Fatal(err)
	}
	appendEvent(t, s, dc.EventOperationDeclared)
	var logs syncBuffer
	d := New(s, Options{Allow: loopback, Now: clk.Now, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if n, err := d.DeliverOnce(context.Background()); n != 0 || err != nil {
		t.Fatalf("DeliverOnce = %d, %v", n, err)
	}
	st := getHook(t, s, "alpha", "ops").Delivery
	if st.Attempts != 1 || st.NextAttempt == nil || !strings.Contains(st.LastError, "secret") || len(rc.got()) != 0 {
		t.Fatalf("delivery state %+v, %d requests", st, len(rc.got()))
	}
	if strings.Contains(logs.String(), "not base64") {
		t.Fatalf("secret logged: %s", logs.String())
	}
}
