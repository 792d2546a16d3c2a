package postgres

import (
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
)

// proxy forwards TCP connections on loopback to the test server, so that
// tests can cut them, stop accepting or stop answering, as a failing
// network or server would.
type proxy struct {
	tb     testing.TB
	url    string // the database's URL, through the proxy
	target string // host:port of the server
	addr   string

	mu     sync.Mutex
	l      net.Listener
	conns  []net.Conn
	frozen bool
}

// newProxy starts a proxy to the server of the database at u, stopped
// when the test ends.
func newProxy(tb testing.TB, u string) *proxy {
	tb.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		tb.Fatal(err)
	}
	p := &proxy{tb: tb, target: pu.Host}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p.addr = l.Addr().String()
	pu.Host = p.addr
	p.url = pu.String()
	p.serve(l)
	tb.Cleanup(p.stop)
	return p
}

func (p *proxy) serve(l net.Listener) {
	p.mu.Lock()
	p.l = l
	p.mu.Unlock()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go p.pipe(c, s)
			go p.pipe(s, c)
		}
	}()
}

// pipe copies from src to dst, except while frozen.
func (p *proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		p.mu.Lock()
		frozen := p.frozen
		p.mu.Unlock()
		if n > 0 && !frozen {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			if err != io.EOF {
				break
			}
			break
		}
	}
	dst.Close()
	src.Close()
}

// cut closes every connection, both ways, and keeps accepting new ones.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// freeze drops everything sent either way from now on, connections open.
func (p *proxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.frozen = true
}

// stop cuts every connection and stops accepting.
func (p *proxy) stop() {
	p.mu.Lock()
	if p.l != nil {
		p.l.Close()
		p.l = nil
	}
	p.mu.Unlock()
	p.cut()
}

// restart accepts again, on the same address.
func (p *proxy) restart() {
	l, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.tb.Fatal(err)
	}
	p.serve(l)
}
