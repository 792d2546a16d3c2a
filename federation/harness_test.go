package federation_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/federation"
	dchttp "github.com/deconflict/deconflict/http"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/postgres"
	"github.com/deconflict/deconflict/sqlite"
)

// testNode is one federation node on loopback: its own SQLite store, its
// own HTTP server, and a fault-injecting proxy in front of it, whose
// stable URL is the one its peers use (so a restarted node keeps it).
type testNode struct {
	party string
	path  string // the SQLite file
	store dc.Store
	pgURL string // a PostgreSQL store instead of the SQLite file, if set
	mech  *mechanism.Mechanism
	node  *federation.Node
	hs    *httptest.Server
	proxy *faultProxy
	logs  *syncBuffer
	stop  context.CancelFunc
	done  chan struct{}
	// leaser and now, if set, are the node's Options.Leaser and Now.
	leaser dc.Leaser
	now    func() time.Time
	// wrap, if set, wraps the store the node's mechanism runs on.
	wrap func(dc.Store) dc.Store
}

// syncBuffer is a log sink tests read while the node writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newNode starts a node hosting party in dir.
func newNode(t testing.TB, dir, party string) *testNode { return newNodeOn(t, dir, party, "") }

// newNodeOn starts a node hosting party on the PostgreSQL database at
// pgURL, or in dir if pgURL is empty.
func newNodeOn(t testing.TB, dir, party, pgURL string) *testNode {
	t.Helper()
	n := &testNode{party: party, path: filepath.Join(dir, party+".db"), pgURL: pgURL, logs: &syncBuffer{}}
	n.proxy = newFaultProxy(t)
	n.start(t)
	ctx := t.Context()
	if _, err := n.mech.Access().AddParty(ctx, party, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := federation.Init(ctx, n.mech, n.proxy.URL()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.shutdown(t) })
	return n
}

// start opens the store and serves it.
func (n *testNode) start(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	var store dc.Store
	var err error
	if n.pgURL != "" {
		store, err = postgres.Open(ctx, n.pgURL)
	} else {
		store, err = sqlite.Open(ctx, n.path)
	}
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(n.logs, &slog.HandlerOptions{Level: logLevel()}))
	n.store = store
	if n.wrap != nil {
		store = n.wrap(store)
	}
	n.mech = mechanism.New(store, mechanism.Options{Logger: log})
	if err := n.mech.Load(ctx); err != nil {
		t.Fatal(err)
	}
	n.node = federation.New(n.mech, federation.Options{Logger: log, Wait: 300 * time.Millisecond, Refresh: 100 * time.Millisecond,
		Leaser: n.leaser, Now: n.now})
	if _, err := n.node.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	srv := dchttp.NewServer(n.mech, dchttp.Options{Logger: log, Federation: &dchttp.FederationOptions{
		Status: func(ctx context.Context) (any, error) { return n.node.Status(ctx) },
		Peers:  n.node.Handler(),
	}})
	n.hs = httptest.NewServer(srv)
	n.proxy.setTarget(n.hs.URL)
	rctx, cancel := context.WithCancel(ctx)
	n.stop, n.done = cancel, make(chan struct{})
	go func() { defer close(n.done); n.node.Run(rctx) }()
}

// shutdown stops the node and closes its store.
func (n *testNode) shutdown(t testing.TB) {
	if n.store == nil {
		return
	}
	n.stop()
	<-n.done
	n.hs.CloseClientConnections()
	n.hs.Close()
	if err := n.store.Close(); err != nil {
		t.Errorf("close %s: %v", n.party, err)
	}
	n.store = nil
}

// descriptor returns the node's descriptor.
func (n *testNode) descriptor(t testing.TB) *federation.Descriptor {
	t.Helper()
	d, err := federation.Describe(t.Context(), n.mech)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// peerAll makes every node a peer of every other.
func peerAll(t testing.TB, nodes ...*testNode) {
	t.Helper()
	for _, a := range nodes {
		for _, b := range nodes {
			if a != b {
				if _, err := federation.AddPeer(t.Context(), a.mech, b.descriptor(t)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// actor returns an actor of the node's party.
func (n *testNode) actor(role dc.Role) dc.Actor { return dc.Actor{Party: n.party, Role: role} }

// token issues a bearer token on the node.
func (n *testNode) token(t testing.TB, role dc.Role, party string) string {
	t.Helper()
	secret, _, err := n.mech.Access().IssueToken(t.Context(), role, party, "test")
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// client is a /v1 client of the node itself (not through the proxy).
func (n *testNode) client(token string) *dchttp.Client {
	return &dchttp.Client{BaseURL: n.hs.URL, Token: token}
}

// faultProxy forwards requests to a node and injects faults: a cut link,
// delays, dropped requests or answers, and duplicated requests. It keeps
// every byte that crossed it, to search.
type faultProxy struct {
	hs *httptest.Server

	mu        sync.Mutex
	target    string
	cut       bool
	dropRate  float64 // of requests and of answers, each
	maxDelay  time.Duration
	duplicate bool
	rnd       *rand.Rand
	wire      bytes.Buffer
	replays   int // duplicated requests the node refused with 401
	// tamper, if set, changes each answer (its header and body) on the
	// way back.
	tamper func(h http.Header, body []byte) []byte
}

func newFaultProxy(t testing.TB) *faultProxy {
	p := &faultProxy{rnd: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))}
	p.hs = httptest.NewServer(p)
	t.Cleanup(p.hs.Close)
	return p
}

func (p *faultProxy) URL() string { return p.hs.URL }

func (p *faultProxy) setTarget(u string) { p.mu.Lock(); p.target = u; p.mu.Unlock() }

// faults sets the faults injected from now on.
func (p *faultProxy) faults(cut bool, dropRate float64, maxDelay time.Duration, duplicate bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut, p.dropRate, p.maxDelay, p.duplicate = cut, dropRate, maxDelay, duplicate
}

func (p *faultProxy) wireBytes() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return bytes.Clone(p.wire.Bytes())
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	p.mu.Lock()
	target, cut, dup := p.target, p.cut, p.duplicate
	dropReq := p.rnd.Float64() < p.dropRate
	dropResp := p.rnd.Float64() < p.dropRate
	var delay time.Duration
	if p.maxDelay > 0 {
		delay = time.Duration(p.rnd.Int64N(int64(p.maxDelay)))
	}
	fmtReq := r.Method + " " + r.URL.String() + "\n"
	for k, v := range r.Header {
		fmtReq += k + ": " + v[0] + "\n"
	}
	p.wire.WriteString(fmtReq)
	p.wire.Write(body)
	p.mu.Unlock()
	if cut || dropReq {
		hijackClose(w)
		return
	}
	time.Sleep(delay)
	send := func() (*http.Response, []byte, error) {
		req, err := http.NewRequestWithContext(r.Context(), r.Method, target+r.URL.RequestURI(), bytes.NewReader(body))
		if err != nil {
			return nil, nil, err
		}
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, b, err
	}
	resp, rb, err := send()
	if err != nil {
		hijackClose(w)
		return
	}
	if dup {
		// The same signed request again: the node must refuse it.
		if again, _, err := send(); err == nil && again.StatusCode == http.StatusUnauthorized {
			p.mu.Lock()
			p.replays++
			p.mu.Unlock()
		}
	}
	p.mu.Lock()
	p.wire.Write(rb)
	p.mu.Unlock()
	if dropResp {
		hijackClose(w) // the node did the work; its answer is lost
		return
	}
	p.mu.Lock()
	tamper := p.tamper
	p.mu.Unlock()
	h := resp.Header.Clone()
	if tamper != nil {
		rb = tamper(h, rb)
		if h.Get("Content-Length") != "" { // as a man in the middle would
			h.Set("Content-Length", strconv.Itoa(len(rb)))
		}
	}
	for k, v := range h {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(rb)
}

// hijackClose drops the connection without an answer.
func hijackClose(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			_ = c.Close()
			return
		}
	}
	w.WriteHeader(http.StatusBadGateway)
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

// logLevel is the nodes' log level: debug with DECONFLICT_FED_DEBUG set.
func logLevel() slog.Level {
	if os.Getenv("DECONFLICT_FED_DEBUG") != "" {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}
