package forward

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/mechanism"
)

// refreshEvery is how often a Peer reads which replica is the writer.
const refreshEvery = time.Second

// pauseAfterFailure is how long a Peer writes here after handing over
// failed, before it tries the writer again.
const pauseAfterFailure = 2 * time.Second

// dialTimeout bounds the connection to the writer, and handshakeTimeout
// its TLS handshake: a connection not made is a hand-over nobody applied.
const (
	dialTimeout      = time.Second
	handshakeTimeout = 5 * time.Second
)

// idleConnTimeout is how long a Peer keeps a connection to the writer
// that carries nothing. A writer giving its lease up waits for its Peers
// to close theirs (Server.Release), and longer than this.
const idleConnTimeout = 3 * time.Second

// Peer is a replica's side of the channel: the mechanism.Forwarder that
// hands declarations to the writer.
type Peer struct {
	store   dc.Store
	self    string      // this replica's URL on the channel
	secret  []byte      // shared by the deployment's replicas
	holding func() bool // whether this replica holds the writer lease
	client  *http.Client
	log     *slog.Logger
	now     func() time.Time

	mu       sync.Mutex
	target   string    // the writer's URL, as last read; "" if none
	pausedTo time.Time // handing over failed: write here until then
	refresh  chan struct{}
}

var _ mechanism.Forwarder = (*Peer)(nil)

// NewPeer returns the forwarder of the replica reached at self, on a
// store whose replicas share secret and cert (see Secret and
// Certificate); holding reports whether this replica holds the writer
// lease. It hands declarations over TLS to a writer presenting cert, and
// to no other. Run keeps it told which replica is the writer.
func NewPeer(st dc.Store, self string, secret []byte, cert tls.Certificate, holding func() bool, log *slog.Logger) *Peer {
	dialer := &net.Dialer{Timeout: dialTimeout, KeepAlive: 15 * time.Second}
	cfg := clientTLS(cert)
	tr := &http.Transport{
		Proxy: nil, // replicas talk directly, whatever the environment says
		// The connection and its handshake: either failing, no byte of
		// the request was sent (Go's TLS client sends no early data).
		DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, &dialError{err}
			}
			hctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
			defer cancel()
			tc := tls.Client(c, cfg)
			if err := tc.HandshakeContext(hctx); err != nil {
				c.Close()
				return nil, &dialError{fmt.Errorf("TLS handshake: %w", err)}
			}
			return tc, nil
		},
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     idleConnTimeout,
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// A redirect is answered by a replica holding the key, which may
	// have applied the declarations: following it would send them again
	// (to that writer, which refuses a request it saw, or in the clear
	// to an http:// URL). The redirect itself is the answer: unsigned,
	// its outcome unknown.
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &Peer{store: st, self: self, secret: secret, holding: holding, log: log, now: time.Now,
		client: client, refresh: make(chan struct{}, 1)}
}

// dialError is a connection to the writer that could not be made: nothing
// was sent.
type dialError struct{ err error }

func (e *dialError) Error() string { return "connect to the writer: " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// Run reads which replica is the writer every second, and at once after
// a hand-over failed, until ctx ends.
func (p *Peer) Run(ctx context.Context) {
	t := time.NewTicker(refreshEvery)
	defer t.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		url, err := Writer(rctx, p.store)
		cancel()
		if err == nil {
			p.mu.Lock()
			moved := url != p.target
			p.target = url
			p.mu.Unlock()
			if moved {
				p.log.Info("writer replica", slog.String("url", url), slog.Bool("self", url == p.self))
				// The writer that was is giving its lease up, and
				// waits for its connections to close.
				p.client.CloseIdleConnections()
			}
		}
		select {
		case <-ctx.Done():
			p.client.CloseIdleConnections()
			return
		case <-t.C:
		case <-p.refresh:
		}
	}
}

// Active reports whether declarations are to be handed over: another
// replica is the writer, and handing over did not fail lately.
func (p *Peer) Active() bool {
	if p.holding() {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return overTLS(p.target) && p.target != p.self && !p.now().Before(p.pausedTo)
}

// pause makes Active false for a while, closes the idle connections to
// the writer (which may be giving its lease up, and waits for them to
// close) and has the writer read again.
func (p *Peer) pause() {
	p.mu.Lock()
	p.pausedTo = p.now().Add(pauseAfterFailure)
	p.mu.Unlock()
	p.client.CloseIdleConnections()
	select {
	case p.refresh <- struct{}{}:
	default:
	}
}

// Forward hands the declarations to the writer (mechanism.Forwarder).
func (p *Peer) Forward(ctx context.Context, ds []mechanism.Forwarded) ([]mechanism.ForwardedOutcome, error) {
	p.mu.Lock()
	target := p.target
	p.mu.Unlock()
	if !overTLS(target) || target == p.self || p.holding() {
		return nil, mechanism.ErrNotForwarded
	}
	body, err := json.Marshal(toWire(ds))
	if err != nil {
		return nil, fmt.Errorf("%w: encode: %v", mechanism.ErrNotForwarded, err)
	}
	if len(body) > maxBody {
		// The writer would refuse it unread: write these here.
		return nil, fmt.Errorf("%w: %d bytes of declarations, more than the writer takes at once", mechanism.ErrNotForwarded, len(body))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target+Path, bytes.NewReader(body))
	if err != nil {
		p.pause()
		return nil, fmt.Errorf("%w: %v", mechanism.ErrNotForwarded, err)
	}
	sig := sign(p.secret, "request", p.now(), newNonce(), target, "", body)
	req.Header.Set(SignatureHeader, sig)
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		p.pause()
		var de *dialError
		if errors.As(err, &de) {
			return nil, fmt.Errorf("%w: %v", mechanism.ErrNotForwarded, err)
		}
		return nil, fmt.Errorf("hand over to %s: %w", target, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		p.pause()
		return nil, fmt.Errorf("hand over to %s: read the answer: %w", target, err)
	}
	if _, _, err := verify(p.secret, "answer", resp.Header.Get(SignatureHeader), p.now(), "", sig, raw); err != nil {
		p.pause()
		return nil, fmt.Errorf("hand over to %s: answered %d: %w", target, resp.StatusCode, err)
	}
	var a answer
	if err := json.Unmarshal(raw, &a); err != nil {
		p.pause()
		return nil, fmt.Errorf("hand over to %s: decode the answer: %w", target, err)
	}
	if a.Refused != "" {
		// Signed by a replica that applied none of them.
		p.pause()
		return nil, fmt.Errorf("%w: %s refused: %s", mechanism.ErrNotForwarded, target, a.Refused)
	}
	if resp.StatusCode != http.StatusOK || len(a.Outcomes) != len(ds) {
		p.pause()
		return nil, fmt.Errorf("hand over to %s: answered %d with %d outcomes for %d declarations", target, resp.StatusCode, len(a.Outcomes), len(ds))
	}
	out := make([]mechanism.ForwardedOutcome, len(ds))
	for i, o := range a.Outcomes {
		if out[i], err = forwardedOf(o); err != nil {
			p.pause()
			return nil, fmt.Errorf("hand over to %s: declaration %d: %w", target, i, err)
		}
	}
	return out, nil
}

// overTLS reports whether url is one the channel is served at: https.
// Declarations are never handed over in the clear.
func overTLS(url string) bool { return strings.HasPrefix(url, "https://") }
