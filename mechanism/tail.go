package mechanism

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	dc "github.com/deconflict/deconflict"
)

// tail keeps the most recent events in memory, so that many open streams
// woken by one commit cost one store read, not one each.
type tail struct {
	mu     sync.Mutex
	events []*dc.Event // consecutive seqs, ascending
	json   [][]byte    // dc.EventJSON of each event, encoded once
	gen    uint64      // the commit generation last read for
	readAt time.Time
}

const (
	tailSize    = 4096
	tailRefresh = 500 * time.Millisecond // picks up other processes' events
)

// refresh reads from store the events committed since the last read, if
// a commit happened since (gen, the commit generation of changes, moved)
// or the last read is old. It is called with t.mu held.
func (t *tail) refresh(ctx context.Context, store dc.Store, gen uint64) error {
	if t.gen == gen && time.Since(t.readAt) < tailRefresh && t.events != nil {
		return nil
	}
	return store.View(ctx, func(tx dc.Tx) error {
		var after int64
		if n := len(t.events); n > 0 {
			after = t.events[n-1].Seq
		} else {
			last, err := tx.LastSeq(ctx)
			if err != nil {
				return err
			}
			after = max(0, last-tailSize)
			t.events, t.json = []*dc.Event{}, [][]byte{}
		}
		for range 8 {
			page, err := tx.Events(ctx, after, 1000)
			if err != nil {
				return err
			}
			for _, e := range page {
				b, err := dc.EventJSON(e)
				if err != nil {
					return err
				}
				t.events, t.json = append(t.events, e), append(t.json, b)
			}
			if len(page) > 0 {
				after = page[len(page)-1].Seq
			}
			if len(page) < 1000 {
				break
			}
		}
		if n := len(t.events); n > tailSize {
			t.events = append([]*dc.Event(nil), t.events[n-tailSize:]...)
			t.json = append([][]byte(nil), t.json[n-tailSize:]...)
		}
		t.gen, t.readAt = gen, time.Now()
		return nil
	})
}

// EncodedEvent is an event with its JSON (dc.EventJSON).
type EncodedEvent struct {
	Event *dc.Event
	JSON  []byte
}

// StreamEvents is Events for live streams: the events after seq that the
// actor may see, with their JSON, served from memory when they are recent.
func (m *Mechanism) StreamEvents(ctx context.Context, a dc.Actor, after int64, limit int) ([]EncodedEvent, error) {
	out, ok, err := m.tail.recent(ctx, m.store, &m.changes.gen, a, after, limit)
	if err != nil || ok {
		return out, err
	}
	evs, err := m.Events(ctx, a, after, limit) // older than the tail: from the store
	if err != nil {
		return nil, err
	}
	for _, e := range evs {
		b, err := dc.EventJSON(e)
		if err != nil {
			return nil, err
		}
		out = append(out, EncodedEvent{e, b})
	}
	return out, nil
}

// recent returns the events after seq after that the actor may see, at
// most limit, from the tail brought up to date first (refresh, with the
// commit generation gen); ok is false if the tail does not reach back to
// after.
func (t *tail) recent(ctx context.Context, store dc.Store, gen *atomic.Uint64, a dc.Actor, after int64, limit int) (out []EncodedEvent, ok bool, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.refresh(ctx, store, gen.Load()); err != nil {
		return nil, false, err
	}
	if len(t.events) == 0 || after < t.events[0].Seq-1 {
		return nil, false, nil
	}
	for i, e := range t.events {
		if e.Seq > after && e.VisibleTo(a) {
			out = append(out, EncodedEvent{e, t.json[i]})
			if len(out) == limit {
				break
			}
		}
	}
	return out, true, nil
}
