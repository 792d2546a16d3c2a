package forward

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// drainTimeout bounds how long a writer giving its lease up waits for the
// other replicas to close their connections to it (Server.Release). It
// is longer than a Peer keeps a connection idle, so that a Peer closes
// every connection it holds before the writer would.
const drainTimeout = idleConnTimeout + 2*time.Second

// Server serves the channel: a Handler, over TLS under the deployment's
// certificate, on a listener of its own.
//
// HTTP/1.1 gives a server no way to close a keep-alive connection safely
// while its client may be sending on it: a request that crosses the
// close is lost with no answer, and its sender cannot tell it from one
// the writer applied before the connection broke, so its declarations
// are answered 503. A writer giving its lease up therefore never closes a
// connection itself while it can help it: it stops taking connections,
// answers each hand-over with a signed refusal and closes its connection
// after that answer, and waits for the Peers to close the connections
// they hold idle (see Release).
type Server struct {
	hs *http.Server
	ln net.Listener

	mu      sync.Mutex
	conns   int           // connections open
	closed  chan struct{} // signalled when one closes
	onDrain func()        // called when Release starts waiting (tests)
}

// Serve serves h on ln over TLS with cert (ServerTLS) until Release or
// Close.
func Serve(ln net.Listener, cert tls.Certificate, h http.Handler, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{ln: &onceCloseListener{Listener: tls.NewListener(ln, ServerTLS(cert))}, closed: make(chan struct{}, 1)}
	s.hs = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		// A body trickled in holds no goroutine and buffer for long: a
		// sender gives up on its hand-over after 30 seconds anyway.
		ReadTimeout: 30 * time.Second,
		IdleTimeout: 120 * time.Second,
		ErrorLog:    slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ConnState:   s.track,
	}
	go func() { _ = s.hs.Serve(s.ln) }()
	return s
}

// track counts the connections open.
func (s *Server) track(_ net.Conn, st http.ConnState) {
	switch st {
	case http.StateNew:
		s.mu.Lock()
		s.conns++
		s.mu.Unlock()
	case http.StateClosed, http.StateHijacked:
		s.mu.Lock()
		s.conns--
		s.mu.Unlock()
		select {
		case s.closed <- struct{}{}:
		default:
		}
	}
}

// open returns how many connections are open.
func (s *Server) open() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// Release closes the channel without cutting a hand-over. Call it once
// the Handler refuses every hand-over (its holding reports false). It
// stops taking connections at once: a replica that dials then is refused
// the connection, and so sent nothing. It then waits until the other
// replicas closed the connections they hold, each after the refusal it
// was answered on, or, idle, when its Peer let it go (within
// idleConnTimeout, or at once when the Peer learns of another writer or
// is refused); then, or after drainTimeout, or when ctx ends, it shuts
// the channel down, letting answers under way finish until ctx ends.
func (s *Server) Release(ctx context.Context) error {
	_ = s.ln.Close()
	if s.onDrain != nil {
		s.onDrain()
	}
	t := time.NewTimer(drainTimeout)
	defer t.Stop()
wait:
	for s.open() > 0 {
		select {
		case <-s.closed:
		case <-t.C:
			break wait
		case <-ctx.Done():
			break wait
		}
	}
	return s.hs.Shutdown(ctx)
}

// Close closes the listener and every connection at once.
func (s *Server) Close() error { return s.hs.Close() }

// onceCloseListener is a listener that Release and the http.Server may
// both close: the second close does nothing.
type onceCloseListener struct {
	net.Listener
	once sync.Once
	err  error
}

func (l *onceCloseListener) Close() error {
	l.once.Do(func() { l.err = l.Listener.Close() })
	return l.err
}
