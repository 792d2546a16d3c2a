package notify

import (
	"context"
	"slices"
	"sync"
	"time"

	dc "github.com/deconflict/deconflict"
)

// fakeStore is an in-memory deconflict.Store with only what the deliverer
// and the tests use. The other Tx methods come from the embedded nil
// interface and panic if called.
type fakeStore struct {
	mu     sync.RWMutex
	events []*dc.Event
	hooks  map[hookKey]*dc.Webhook
}

func newFakeStore() *fakeStore { return &fakeStore{hooks: map[hookKey]*dc.Webhook{}} }

func (s *fakeStore) Update(ctx context.Context, fn func(dc.Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	// No rollback: the deliverer writes one thing per transaction.
	return fn(&fakeTx{s: s})
}

func (s *fakeStore) View(ctx context.Context, fn func(dc.Tx) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return fn(&fakeTx{s: s, ro: true})
}

func (s *fakeStore) Ping(context.Context) error { return nil }
func (s *fakeStore) Close() error               { return nil }

type fakeTx struct {
	dc.Tx // nil: every method not below panics
	s     *fakeStore
	ro    bool
}

func (t *fakeTx) writable() {
	if t.ro {
		panic("write in a View")
	}
}

func cloneHook(w *dc.Webhook) *dc.Webhook {
	c := *w
	c.Events = slices.Clone(w.Events)
	return &c
}

func (t *fakeTx) AppendEvent(ctx context.Context, e *dc.Event) error {
	t.writable()
	e.Seq = int64(len(t.s.events)) + 1
	c := *e
	t.s.events = append(t.s.events, &c)
	return nil
}

func (t *fakeTx) Events(ctx context.Context, after int64, limit int) ([]*dc.Event, error) {
	var out []*dc.Event
	for _, e := range t.s.events {
		if e.Seq > after && len(out) < limit {
			c := *e
			out = append(out, &c)
		}
	}
	return out, nil
}

func (t *fakeTx) LastSeq(ctx context.Context) (int64, error) { return int64(len(t.s.events)), nil }

func (t *fakeTx) Webhook(ctx context.Context, party, name string) (*dc.Webhook, error) {
	w, ok := t.s.hooks[hookKey{party, name}]
	if !ok {
		return nil, dc.Errorf(dc.ENotFound, "no webhook")
	}
	return cloneHook(w), nil
}

func (t *fakeTx) PutWebhook(ctx context.Context, w *dc.Webhook) error {
	t.writable()
	t.s.hooks[hookKey{w.Party, w.Name}] = cloneHook(w)
	return nil
}

func (t *fakeTx) PutDelivery(ctx context.Context, party, name string, d dc.Delivery) error {
	t.writable()
	w, ok := t.s.hooks[hookKey{party, name}]
	if !ok {
		return dc.Errorf(dc.ENotFound, "no webhook")
	}
	w.Delivery = d
	return nil
}

func (t *fakeTx) Webhooks(ctx context.Context, party string) ([]*dc.Webhook, error) {
	var out []*dc.Webhook
	for _, w := range t.s.hooks {
		if party == "" || w.Party == party {
			out = append(out, cloneHook(w))
		}
	}
	slices.SortFunc(out, func(a, b *dc.Webhook) int {
		if a.Party != b.Party {
			if a.Party < b.Party {
				return -1
			}
			return 1
		}
		if a.Name < b.Name {
			return -1
		} else if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return out, nil
}

func (t *fakeTx) DeleteWebhook(ctx context.Context, party, name string) error {
	t.writable()
	if _, ok := t.s.hooks[hookKey{party, name}]; !ok {
		return dc.Errorf(dc.ENotFound, "no webhook")
	}
	delete(t.s.hooks, hookKey{party, name})
	return nil
}

// clock is a controllable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// signal is a Changed broadcaster.
type signal struct {
	mu sync.Mutex
	ch chan struct{}
}

func (s *signal) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

func (s *signal) notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}
