package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
)

// loopback lets deliveries reach the tests' receivers on 127.0.0.1.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

// TestDeliveryToRefusedAddressFails: a webhook whose name resolves to
// loopback ("localhost"), or that was stored with a loopback IP (as an
// older server might have), is not dialled unless Allow covers it.
func TestDeliveryToRefusedAddressFails(t *testing.T) {
	ctx := context.Background()
	rc := newReceiver(t, nil)
	port := rc.srv.Listener.Addr().(*net.TCPAddr).Port
	for _, u := range []string{
		fmt.Sprintf("http://localhost:%d/hook", port),
		fmt.Sprintf("http://127.0.0.1:%d/hook", port),
		fmt.Sprintf("http://[::ffff:127.0.0.1]:%d/hook", port),
	} {
		s := newFakeStore()
		clk := newClock()
		addHook(t, s, "alpha", "ops", u, dc.EventOperationDeclared)
		appendEvent(t, s, dc.EventOperationDeclared)
		before := len(rc.got())
		if n, err := New(s, Options{Now: clk.Now, Logger: quiet()}).DeliverOnce(ctx); n != 0 || err != nil {
			t.Fatalf("%s: DeliverOnce = %d, %v", u, n, err)
		}
		st := getHook(t, s, "alpha", "ops").Delivery
		if st.LastError != FailNotAllowed || st.Attempts != 1 || len(rc.got()) != before {
			t.Fatalf("%s: delivery state %+v, %d requests", u, st, len(rc.got())-before)
		}
		// The operator allows loopback: the same webhook is delivered.
		clk.Add(time.Hour)
		if n, err := New(s, Options{Now: clk.Now, Logger: quiet(), Allow: loopback}).DeliverOnce(ctx); n != 1 || err != nil {
			t.Fatalf("%s allowed: DeliverOnce = %d, %v", u, n, err)
		}
		if len(rc.got()) != before+1 {
			t.Fatalf("%s allowed: %d requests", u, len(rc.got())-before)
		}
	}
}

// TestNoProxyFromEnvironment: a proxy set in the environment would move
// the connection (and the address check) to the proxy; it is not used.
func TestNoProxyFromEnvironment(t *testing.T) {
	var proxied atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { proxied.Add(1) }))
	t.Cleanup(proxy.Close)
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("http_proxy", proxy.URL)
	s := newFakeStore()
	addHook(t, s, "alpha", "ops", "http://receiver.invalid/hook", dc.EventOperationDeclared)
	appendEvent(t, s, dc.EventOperationDeclared)
	if _, err := New(s, Options{Logger: quiet(), Allow: loopback}).DeliverOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := getHook(t, s, "alpha", "ops").Delivery; proxied.Load() != 0 || st.LastError != FailConnect {
		t.Fatalf("proxied %d requests; delivery state %+v", proxied.Load(), st)
	}
}

// TestFailureClasses: last_error says what kind of failure it was and
// nothing a receiver's port answered: a closed port, a port that hangs up
// and, for https, a port that answers without TLS look the same, a status
// is not shown.
func TestFailureClasses(t *testing.T) {
	closed := "http://" + closedAddr(t) + "/hook"
	hangUp := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Write([]byte("SSH-2.0-OpenSSH_9.6\r\n"))
				c.Close()
			}
		}()
		return "http://" + l.Addr().String() + "/hook"
	}()
	status := newReceiver(t, func(int, *http.Request) int { return http.StatusMethodNotAllowed })
	redirect := newReceiver(t, func(int, *http.Request) int { return http.StatusFound })
	release := make(chan struct{})
	slow := newReceiver(t, func(_ int, r *http.Request) int {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return http.StatusOK
	})
	t.Cleanup(func() { close(release) })
	untrusted := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(untrusted.Close)
	// The system's roots are loaded once, at the first verification; that
	// can take longer than the attempts' 300ms here (under -race, on a
	// busy machine) and would make the untrusted case a timeout.
	if _, err := x509.SystemCertPool(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ url, want string }{
		{closed, FailConnect},
		{hangUp, FailConnect},
		{"http://receiver.invalid/hook", FailConnect},
		{status.srv.URL, FailStatus},
		{redirect.srv.URL, FailStatus},
		{slow.srv.URL, FailTimeout},
		{untrusted.URL, FailTLS},
		// https to a port that is open but does not speak TLS looks like
		// a closed one: otherwise https URLs would tell open ports from
		// closed ones.
		{strings.Replace(status.srv.URL, "http:", "https:", 1), FailConnect},
		{strings.Replace(hangUp, "http:", "https:", 1), FailConnect},
		{strings.Replace(closed, "http:", "https:", 1), FailConnect},
		{"http://169.254.169.254/latest/meta-data/", FailNotAllowed},
	} {
		s := newFakeStore()
		addHook(t, s, "alpha", "ops", c.url, dc.EventOperationDeclared)
		appendEvent(t, s, dc.EventOperationDeclared)
		d := New(s, Options{Logger: quiet(), Allow: loopback, Timeout: 300 * time.Millisecond})
		if _, err := d.DeliverOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		st := getHook(t, s, "alpha", "ops").Delivery
		if st.LastError != c.want || st.LastStatus != 0 || st.Attempts != 1 {
			t.Errorf("%s: last_error %q, last_status %d; want %q, 0", c.url, st.LastError, st.LastStatus, c.want)
		}
		// The times are the test's own (their digits may spell 405).
		st.LastAttempt, st.NextAttempt, st.FailingSince = nil, nil, nil
		b, _ := json.Marshal(st)
		if strings.Contains(string(b), "405") || strings.Contains(string(b), "refused") || strings.Contains(string(b), "SSH") {
			t.Errorf("%s: delivery state tells what the port answered: %s", c.url, b)
		}
	}
}

// TestFairSlots: free slots go to the waiting parties in turn, each
// party's requests in order, and no party holds more than its share.
func TestFairSlots(t *testing.T) {
	ctx := context.Background()
	f := newFairSlots(2, 2)
	// alpha takes both slots, then queues 3 more; bravo and charlie queue one each.
	for range 2 {
		if err := f.acquire(ctx, "alpha"); err != nil {
			t.Fatal(err)
		}
	}
	var (
		mu    sync.Mutex
		order []string
		wg    sync.WaitGroup
	)
	waiting := func() int {
		f.mu.Lock()
		defer f.mu.Unlock()
		k := 0
		for _, q := range f.waiting {
			k += len(q)
		}
		return k
	}
	enqueue := func(party string) {
		before := waiting()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f.acquire(ctx, party); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			order = append(order, party)
			mu.Unlock()
		}()
		waitFor(t, "a waiter", func() bool { return waiting() == before+1 })
	}
	for _, p := range []string{"alpha", "alpha", "alpha", "bravo", "charlie"} {
		enqueue(p)
	}
	// Release one slot at a time: alpha's two, then each grant in turn.
	for i := range 5 {
		p := "alpha"
		if i >= 2 {
			mu.Lock()
			p = order[i-2]
			mu.Unlock()
		}
		f.release(p)
		waitFor(t, "a grant", func() bool { mu.Lock(); defer mu.Unlock(); return len(order) == i+1 })
	}
	wg.Wait()
	// alpha was first in the ring, then bravo and charlie each get a turn
	// before alpha's second and third.
	if got, want := strings.Join(order, ","), "alpha,bravo,charlie,alpha,alpha"; got != want {
		t.Fatalf("granted %s, want %s", got, want)
	}

	// A party at its own limit waits although slots are free; others do
	// not. A waiter that gives up leaves the queue.
	g := newFairSlots(3, 1)
	if err := g.acquire(ctx, "alpha"); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := g.acquire(short, "alpha"); err == nil {
		t.Fatal("alpha got a second slot over its limit")
	}
	if err := g.acquire(ctx, "bravo"); err != nil {
		t.Fatal(err)
	}
	if len(g.waiting) != 0 || len(g.ring) != 0 || g.inUse != 2 {
		t.Fatalf("after a waiter gave up: waiting %v, ring %v, in use %d", g.waiting, g.ring, g.inUse)
	}
}

// blocker is a receiver that holds every request until released, and
// counts the requests it holds.
type blocker struct {
	*receiver
	held, most atomic.Int32
}

func newBlocker(t *testing.T) *blocker {
	b := &blocker{}
	release := make(chan struct{})
	b.receiver = newReceiver(t, func(_ int, r *http.Request) int {
		n := b.held.Add(1)
		defer b.held.Add(-1)
		for m := b.most.Load(); n > m && !b.most.CompareAndSwap(m, n); m = b.most.Load() {
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return http.StatusOK
	})
	t.Cleanup(func() { close(release) }) // before the server closes
	return b
}

// TestSlowPartyDoesNotDelayAnother: a party with the most webhooks it may
// have, all to a receiver that does not answer, does not delay another
// party's delivery, which goes out while every one of the slow requests is
// still held.
func TestSlowPartyDoesNotDelayAnother(t *testing.T) {
	s := newFakeStore()
	slow, fast := newBlocker(t), newReceiver(t, nil)
	for i := range 16 {
		addHook(t, s, "alpha", fmt.Sprintf("slow-%02d", i), slow.srv.URL, dc.EventOperationDeclared)
	}
	addHook(t, s, "bravo", "fast", fast.srv.URL, dc.EventOperationDeclared)
	var sig signal
	d := New(s, Options{Changed: sig.Changed, Poll: time.Hour, Logger: quiet(), Allow: loopback, Timeout: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	appendEvent(t, s, dc.EventOperationDeclared)
	sig.notify()
	waitFor(t, "every slow webhook's request to be held", func() bool { return slow.held.Load() == 16 })
	waitFor(t, "evt_1 at the other party's receiver", func() bool { return len(fast.got()) == 1 })
	appendEvent(t, s, dc.EventOperationDeclared)
	sig.notify()
	waitFor(t, "evt_2 at the other party's receiver", func() bool { return len(fast.got()) == 2 })
	if n := slow.held.Load(); n != 16 {
		t.Fatalf("%d slow requests held, want 16", n)
	}
}

// TestFairAcrossPartiesWhenSaturated: with every slot taken, a slow party
// holds no more than its share, and a third party's webhook is delivered
// while both slow parties' requests are held.
func TestFairAcrossPartiesWhenSaturated(t *testing.T) {
	s := newFakeStore()
	slowA, slowB, fast := newBlocker(t), newBlocker(t), newReceiver(t, nil)
	for i := range 16 {
		addHook(t, s, "alpha", fmt.Sprintf("slow-%02d", i), slowA.srv.URL, dc.EventOperationDeclared)
		addHook(t, s, "bravo", fmt.Sprintf("slow-%02d", i), slowB.srv.URL, dc.EventOperationDeclared)
	}
	addHook(t, s, "charlie", "fast", fast.srv.URL, dc.EventOperationDeclared)
	var sig signal
	d := New(s, Options{Changed: sig.Changed, Poll: time.Hour, Logger: quiet(), Allow: loopback, Timeout: time.Minute,
		MaxConcurrent: 5, PerParty: 2})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	appendEvent(t, s, dc.EventOperationDeclared)
	sig.notify()
	waitFor(t, "both slow parties to hold their share", func() bool { return slowA.held.Load() == 2 && slowB.held.Load() == 2 })
	waitFor(t, "evt_1 at the third party's receiver", func() bool { return len(fast.got()) == 1 })
	if a, b := slowA.most.Load(), slowB.most.Load(); a != 2 || b != 2 {
		t.Fatalf("slow parties held %d and %d requests at most, want 2 each", a, b)
	}
}

// TestFailureLogRateLimited: many dead receivers write a bounded number of
// log lines: a few about single webhooks, then one summary per interval
// with the counts.
func TestFailureLogRateLimited(t *testing.T) {
	ctx := context.Background()
	s := newFakeStore()
	clk := newClock()
	dead := "http://" + closedAddr(t) + "/hook"
	const hooks = 200
	for i := range hooks {
		addHook(t, s, fmt.Sprintf("p%03d", i/10), fmt.Sprintf("h%d", i), dead, dc.EventOperationDeclared)
	}
	appendEvent(t, s, dc.EventOperationDeclared)
	var logs syncBuffer
	d := New(s, Options{Now: clk.Now, Allow: loopback, MaxBackoff: time.Second, LogInterval: time.Minute,
		Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	const rounds = 5
	for range rounds {
		if _, err := d.DeliverOnce(ctx); err != nil {
			t.Fatal(err)
		}
		clk.Add(2 * time.Second)
	}
	clk.Add(time.Minute)
	d.flog.tick(clk.Now())
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) > logBurst+1 {
		t.Fatalf("%d failed attempts wrote %d log lines, want at most %d", hooks*rounds, len(lines), logBurst+1)
	}
	var summary struct {
		Msg            string         `json:"msg"`
		FailedAttempts int            `json:"failed_attempts"`
		Webhooks       int            `json:"webhooks"`
		Suppressed     int            `json:"lines_suppressed"`
		ByClass        map[string]int `json:"by_class"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &summary); err != nil {
		t.Fatal(err)
	}
	if summary.Msg != "webhook deliveries failing" || summary.FailedAttempts != hooks*rounds || summary.Webhooks != hooks ||
		summary.Suppressed != hooks-logBurst || summary.ByClass[FailConnect] != hooks*rounds {
		t.Fatalf("summary %s", lines[len(lines)-1])
	}
}

// TestTLSDelivery: an https receiver whose certificate verifies is
// delivered to, over HTTP/2 where it offers it.
func TestTLSDelivery(t *testing.T) {
	var proto atomic.Value
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { proto.Store(r.Proto) }))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	s := newFakeStore()
	addHook(t, s, "alpha", "ops", srv.URL+"/hook", dc.EventOperationDeclared)
	appendEvent(t, s, dc.EventOperationDeclared)
	d := New(s, Options{Logger: quiet(), Allow: loopback, TLSConfig: &tls.Config{RootCAs: roots}})
	if n, err := d.DeliverOnce(context.Background()); n != 1 || err != nil {
		t.Fatalf("DeliverOnce = %d, %v (state %+v)", n, err, getHook(t, s, "alpha", "ops").Delivery)
	}
	if p := proto.Load(); p != "HTTP/2.0" {
		t.Errorf("delivered over %v", p)
	}
}
