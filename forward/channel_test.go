package forward

import (
	"context"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"

	"github.com/deconflict/deconflict/mechanism"
	"github.com/google/uuid"
)

// crossingProxy relays TCP connections between Peers and a writer. Once
// held, it keeps what a Peer sends from reaching the writer until either
// the writer closed that connection, or let is closed. A writer's close
// reaches the Peer only once it sent something: the close and a
// hand-over cross, as they do when a Peer picks an idle connection the
// writer is closing, and the proxy then drops the hand-over and closes
// the Peer's side, as the writer's end of the connection would.
type crossingProxy struct {
	ln   net.Listener
	to   string
	held atomic.Bool
	let  <-chan struct{}
}

func newCrossingProxy(t *testing.T, to string, let <-chan struct{}) *crossingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	p := &crossingProxy{ln: ln, to: to, let: let}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.relay(c)
		}
	}()
	return p
}

func (p *crossingProxy) relay(c net.Conn) {
	s, err := net.Dial("tcp", p.to)
	if err != nil {
		c.Close()
		return
	}
	gone := make(chan struct{}) // the writer closed the connection
	go func() {
		_, _ = io.Copy(c, s)
		close(gone)
		if !p.held.Load() {
			c.Close()
		}
	}()
	defer c.Close()
	defer s.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		if p.held.Load() {
			select {
			case <-gone:
				return // the hand-over is lost with the connection
			case <-p.let:
			}
		}
		if _, err := s.Write(buf[:n]); err != nil {
			return
		}
	}
}

// TestReleaseCutsNoHandOver: a writer giving its lease up closes its
// channel while a Peer holds an idle connection to it, and the Peer then
// hands declarations over on that connection. The writer does not close
// the connection under the hand-over: it answers it with a signed
// refusal, so that the Peer knows the declarations were not applied and
// writes them itself, rather than answering its callers 503. The channel
// then closes.
func TestReleaseCutsNoHandOver(t *testing.T) {
	secret, cert := testKeys(t)
	var holding atomic.Bool
	holding.Store(true)
	m := newWriter(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	draining := make(chan struct{})
	proxy := newCrossingProxy(t, ln.Addr().String(), draining)
	url := "https://" + proxy.ln.Addr().String()
	srv := Serve(ln, cert, Handler(m, secret, url, holding.Load, nil), nil)
	srv.onDrain = func() { close(draining) }
	t.Cleanup(func() { srv.Close() })
	p := peerTo(url, secret, cert)
	ctx := context.Background()
	if _, err := p.Forward(ctx, []mechanism.Forwarded{{Actor: alpha, ID: uuid.NewString(), Declaration: testDeclaration(33)}}); err != nil {
		t.Fatal(err)
	}

	proxy.held.Store(true)
	holding.Store(false)
	released := make(chan error, 1)
	go func() { released <- srv.Release(ctx) }()
	_, err = p.Forward(ctx, []mechanism.Forwarded{{Actor: alpha, ID: uuid.NewString(), Declaration: testDeclaration(33)}})
	if !errors.Is(err, mechanism.ErrNotForwarded) {
		t.Errorf("a hand-over to a writer closing its channel: %v; want a refusal (ErrNotForwarded), not an unknown outcome", err)
	}
	if err := <-released; err != nil {
		t.Errorf("Release: %v", err)
	}
	if n := m.Index().LiveOperations(); n != 1 {
		t.Errorf("the writer applied %d declarations, want the first only", n)
	}
}
