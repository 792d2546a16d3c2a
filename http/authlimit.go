package http

import (
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// authLimiter keeps a token bucket per client address for failed
// authentications only (no, unknown or revoked token): a client that
// keeps failing is answered 429 rather than 401, while a valid token from
// the same address is served as ever (it never touches the bucket), so the
// limit cannot lock out a party behind a shared address. IPv6 clients
// are counted by /64, the block one host usually holds.
type authLimiter struct {
	rate  rate.Limit
	burst int

	mu     sync.Mutex
	byAddr map[netip.Addr]*rate.Limiter
}

// authLimiterSweepAt is how many addresses are kept before those whose
// bucket has filled up again (idle ones) are forgotten, bounding memory.
const authLimiterSweepAt = 10000

func newAuthLimiter(perSecond float64, burst int) *authLimiter {
	return &authLimiter{rate: rate.Limit(perSecond), burst: burst, byAddr: map[netip.Addr]*rate.Limiter{}}
}

// failed records a failed authentication from the request's client and
// reports whether it is still within the limit.
func (l *authLimiter) failed(r *http.Request) bool {
	addr := clientAddr(r)
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.byAddr[addr]
	if !ok {
		if len(l.byAddr) >= authLimiterSweepAt {
			for a, x := range l.byAddr {
				if x.TokensAt(now) >= float64(l.burst) {
					delete(l.byAddr, a)
				}
			}
		}
		lim = rate.NewLimiter(l.rate, l.burst)
		l.byAddr[addr] = lim
	}
	return lim.AllowN(now, 1)
}

// retryAfter is the whole number of seconds until the client's bucket
// holds a token again.
func (l *authLimiter) retryAfter() int {
	return max(1, int(1/float64(l.rate)+0.999))
}

// clientAddr is the address a request came from (the connection's peer;
// headers such as X-Forwarded-For are not trusted), IPv6 masked to /64.
func clientAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		if p, err := a.Prefix(64); err == nil {
			return p.Addr()
		}
	}
	return a
}
