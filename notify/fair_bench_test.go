package notify

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
)

// BenchmarkOtherPartyWhileSlowPartyHeld measures how long one party's
// webhook takes to deliver an event while another party has 16 webhooks
// whose receiver holds every request (the scenario of a head flooding the
// server with slow receivers). Each op is one event delivered to the fast
// party's receiver.
//
//	go test -run XXX -bench OtherPartyWhileSlowPartyHeld -benchtime 200x ./notify
func BenchmarkOtherPartyWhileSlowPartyHeld(b *testing.B) {
	s := newFakeStore()
	release := make(chan struct{})
	var held atomic.Int32
	slow := newReceiver(b, func(_ int, r *http.Request) int {
		held.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return http.StatusOK
	})
	b.Cleanup(func() { close(release) })
	var got atomic.Int64
	fast := newReceiver(b, func(int, *http.Request) int { got.Add(1); return http.StatusOK })
	for i := range 16 {
		addHook(b, s, "alpha", fmt.Sprintf("slow-%02d", i), slow.srv.URL, dc.EventOperationDeclared)
	}
	addHook(b, s, "bravo", "fast", fast.srv.URL, dc.EventOperationDeclared)
	var sig signal
	d := New(s, Options{Changed: sig.Changed, Poll: time.Hour, Logger: quiet(), Allow: loopback, Timeout: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	appendEvent(b, s, dc.EventOperationDeclared)
	sig.notify()
	for held.Load() < 16 || got.Load() < 1 {
		time.Sleep(time.Millisecond)
	}
	b.ResetTimer()
	for i := range b.N {
		appendEvent(b, s, dc.EventOperationDeclared)
		sig.notify()
		for got.Load() < int64(i+2) {
			time.Sleep(50 * time.Microsecond)
		}
	}
}
