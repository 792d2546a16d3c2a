package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"

	dc "github.com/deconflict/deconflict"
)

// The classes of failed attempts, the only thing Delivery.LastError and the
// logs say about a receiver's failure. They tell a party what to look at
// on its receiver, and no more: the text of the underlying error (refused,
// reset, unreachable, a DNS answer, a TLS alert, a status code) is not
// kept, because it would let a head probe what answers on a host and port
// — a port scanner with the server's network position.
const (
	// FailNotAllowed: every address of the URL's host is one the egress
	// rule refuses (dc.Egress), so nothing was sent.
	FailNotAllowed = "destination not allowed"
	// FailConnect: no connection: the name did not resolve, or the
	// connection was refused, reset, unreachable or not accepted in time.
	// Also an answer that is not HTTP, or, for https, not TLS.
	FailConnect = "connection failed"
	// FailTLS: the receiver answered with TLS, but the handshake failed
	// (such as a certificate that does not verify). A port that answers
	// the handshake with something other than TLS is FailConnect, like a
	// closed one.
	FailTLS = "TLS error"
	// FailTimeout: connected, but no complete answer within the
	// per-attempt timeout (Options.Timeout).
	FailTimeout = "timeout"
	// FailStatus: the receiver answered with a status other than 2xx
	// (also a redirect, which is not followed).
	FailStatus = "non-2xx status"
	// FailEncode and FailSecret are failures of the server's side.
	FailEncode = "cannot encode the event"
	FailSecret = "the webhook's secret is malformed"
	// FailURL: the stored URL cannot be requested.
	FailURL = "invalid URL"
)

// errNotAllowed is returned by the dialler's Control hook for an address
// the egress rule refuses.
var errNotAllowed = errors.New("destination not allowed")

// dialError marks a failure to connect, as opposed to one after the
// connection was made.
type dialError struct{ err error }

func (e *dialError) Error() string { return "dial: " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// tlsError marks a failed TLS handshake.
type tlsError struct{ err error }

func (e *tlsError) Error() string { return "tls: " + e.err.Error() }
func (e *tlsError) Unwrap() error { return e.err }

// newClient returns the client deliveries are sent with. Its dialler
// checks every address it is about to connect to against the egress rule
// (the Control hook runs after DNS, on the address of the socket), so a
// name that resolves — or is rebound — to a refused address is never
// dialled. It uses no proxy (the environment's HTTP_PROXY would move the
// connection, and the check, elsewhere) and follows no redirect.
func newClient(egress dc.Egress, tlsConfig *tls.Config) *http.Client {
	dialer := &net.Dialer{
		Timeout:   DefaultTimeout,
		KeepAlive: 30 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil || !egress.Permits(ap.Addr()) {
				return errNotAllowed
			}
			return nil
		},
	}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, &dialError{err}
		}
		return c, nil
	}
	if tlsConfig == nil {
		tlsConfig = &tls.Config{}
	}
	tlsConfig = tlsConfig.Clone()
	tlsConfig.NextProtos = []string{"h2", "http/1.1"}
	tr := &http.Transport{
		Proxy:       nil,
		DialContext: dial,
		// The handshake is done here rather than by the transport, so that
		// its failure is told from others (the transport rewrites some).
		DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				c.Close()
				return nil, &dialError{err}
			}
			cfg := tlsConfig.Clone()
			if cfg.ServerName == "" {
				cfg.ServerName = host
			}
			fc := &firstBytes{Conn: c}
			tc := tls.Client(fc, cfg)
			hctx, cancel := context.WithTimeout(ctx, DefaultTimeout)
			defer cancel()
			if err := tc.HandshakeContext(hctx); err != nil {
				c.Close()
				switch {
				case hctx.Err() != nil: // the attempt's time is up: a timeout
					return nil, err
				case !fc.spokeTLS():
					// Something that is not a TLS server, or nothing,
					// answered: told apart from a closed port, it would
					// show which ports are open.
					return nil, &dialError{err}
				}
				return nil, &tlsError{err}
			}
			return tc, nil
		},
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           256,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        90 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// firstBytes is a connection that keeps the first bytes the peer sends,
// to tell whether it answered the TLS handshake with TLS.
type firstBytes struct {
	net.Conn
	n    int
	head [3]byte
}

func (c *firstBytes) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if c.n < len(c.head) {
		c.n += copy(c.head[c.n:], p[:n])
	}
	return n, err
}

// spokeTLS reports whether the peer's first bytes are the header of a TLS
// record: a handshake message or an alert, of TLS version 3.x (SSL 3.0
// to TLS 1.3 all start so).
func (c *firstBytes) spokeTLS() bool {
	return c.n == len(c.head) && (c.head[0] == 0x15 || c.head[0] == 0x16) && c.head[1] == 0x03
}

// classify returns the class of a failed request (see FailConnect etc.).
func classify(err error) string {
	var (
		de *dialError
		te *tlsError
		ne net.Error
	)
	switch {
	case errors.Is(err, errNotAllowed):
		return FailNotAllowed
	case errors.As(err, &de):
		return FailConnect
	case errors.As(err, &te):
		return FailTLS
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return FailTimeout
	}
	return FailConnect
}
