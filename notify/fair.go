package notify

import (
	"context"
	"slices"
	"sync"
)

// fairSlots bounds how many requests are in flight: at most total in all,
// at most perParty for any one party. When a slot frees and requests
// wait, it goes to the parties in turn (round-robin), each party's
// requests first come first served; a party at its own limit is passed
// over. So a party whose receivers are slow holds at most perParty slots,
// and another party's request waits at most until a slot frees and its
// turn comes, never behind the whole queue of the slow party.
type fairSlots struct {
	mu       sync.Mutex
	total    int
	perParty int
	inUse    int
	held     map[string]int       // slots held, by party
	waiting  map[string][]*waiter // FIFO, by party
	ring     []string             // parties with waiters, next turn first
}

type waiter struct {
	ch      chan struct{} // closed when granted
	granted bool
}

func newFairSlots(total, perParty int) *fairSlots {
	return &fairSlots{total: total, perParty: perParty, held: map[string]int{}, waiting: map[string][]*waiter{}}
}

// acquire waits for a slot for party, or returns ctx's error.
func (s *fairSlots) acquire(ctx context.Context, party string) error {
	s.mu.Lock()
	if len(s.waiting[party]) == 0 && s.inUse < s.total && s.held[party] < s.perParty {
		s.inUse++
		s.held[party]++
		s.mu.Unlock()
		return nil
	}
	w := &waiter{ch: make(chan struct{})}
	if len(s.waiting[party]) == 0 {
		s.ring = append(s.ring, party)
	}
	s.waiting[party] = append(s.waiting[party], w)
	s.mu.Unlock()
	select {
	case <-w.ch:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		defer s.mu.Unlock()
		if w.granted { // granted meanwhile: hand it on
			s.releaseLocked(party)
			return ctx.Err()
		}
		q := slices.DeleteFunc(s.waiting[party], func(x *waiter) bool { return x == w })
		if len(q) == 0 { // its turn is gone; otherwise it keeps its place
			delete(s.waiting, party)
			s.ring = slices.DeleteFunc(s.ring, func(p string) bool { return p == party })
		} else {
			s.waiting[party] = q
		}
		return ctx.Err()
	}
}

// release frees a slot of party.
func (s *fairSlots) release(party string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.releaseLocked(party)
}

func (s *fairSlots) releaseLocked(party string) {
	s.inUse--
	if s.held[party]--; s.held[party] == 0 {
		delete(s.held, party)
	}
	s.dispatch()
}

// dispatch grants free slots to waiters, the parties in turn.
func (s *fairSlots) dispatch() {
	for s.inUse < s.total {
		i := slices.IndexFunc(s.ring, func(p string) bool { return s.held[p] < s.perParty })
		if i < 0 {
			return
		}
		p := s.ring[i]
		q := s.waiting[p]
		w := q[0]
		w.granted = true
		close(w.ch)
		s.inUse++
		s.held[p]++
		// The party's next turn comes after every other party's.
		s.ring = slices.Delete(s.ring, i, i+1)
		if q = q[1:]; len(q) == 0 {
			delete(s.waiting, p)
		} else {
			s.waiting[p] = q
			s.ring = append(s.ring, p)
		}
	}
}
