package federation_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/federation"
	"github.com/deconflict/deconflict/internal/pgtest"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// What the tests of several replicas of a node (replicas_test.go) use: a
// pull lease the test hands over, a gate for a node's log requests, and
// two replicas of alpha's node on one PostgreSQL database with bravo's.

// handedLease grants the pull lease to one replica at a time, the one
// the test names, and moves it as PostgreSQL does when it ends the
// session of the holder's lease connection: the holder is not told (its
// Lost stays open, as for the ping and its timeout it takes to notice),
// but its write transactions learn it (HeldIn), as they do from the
// server.
type handedLease struct {
	mu   sync.Mutex
	to   string                // the replica that holds the lease, or may take it
	held map[string]*heldLease // by replica, until released
	// stalls are the next checks that find the lease held, by replica,
	// to stall (stallNext).
	stalls map[string]*stall
}

// stall holds up a check of the lease that found it held, inside its
// write transaction: stalled closes when it is held up, and it goes on
// once resume closes.
type stall struct{ stalled, resume chan struct{} }

func newHandedLease(to string) *handedLease {
	return &handedLease{to: to, held: map[string]*heldLease{}, stalls: map[string]*stall{}}
}

// stallNext holds up the next check of replica's lease that finds it
// held, as a replica descheduled in the middle of a write transaction.
func (h *handedLease) stallNext(replica string) *stall {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := &stall{stalled: make(chan struct{}), resume: make(chan struct{})}
	h.stalls[replica] = s
	return s
}

// leaser returns the leaser of a replica.
func (h *handedLease) leaser(replica string) dc.Leaser { return replicaLeaser{h, replica} }

// hand moves the lease to replica, without telling its holder.
func (h *handedLease) hand(replica string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.to = replica
}

// released reports whether replica holds no lease it has not released.
func (h *handedLease) released(replica string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.held[replica] == nil
}

// tell closes the Lost of replica's lease: it notices it lost it.
func (h *handedLease) tell(replica string) {
	h.mu.Lock()
	l := h.held[replica]
	h.mu.Unlock()
	if l != nil {
		l.end()
	}
}

type replicaLeaser struct {
	h       *handedLease
	replica string
}

func (r replicaLeaser) TryLease(_ context.Context, name string) (dc.Lease, bool, error) {
	h := r.h
	h.mu.Lock()
	defer h.mu.Unlock()
	if name != federation.PullLease || h.to != r.replica || h.held[r.replica] != nil {
		return nil, false, nil
	}
	l := &heldLease{h: h, replica: r.replica, lost: make(chan struct{})}
	h.held[r.replica] = l
	return l, true, nil
}

type heldLease struct {
	h       *handedLease
	replica string
	lost    chan struct{}
	once    sync.Once
}

func (l *heldLease) Lost() <-chan struct{} { return l.lost }

func (l *heldLease) end() { l.once.Do(func() { close(l.lost) }) }

func (l *heldLease) Release() {
	l.h.mu.Lock()
	if l.h.held[l.replica] == l {
		delete(l.h.held, l.replica)
	}
	l.h.mu.Unlock()
	l.end()
}

// HeldIn first runs a statement in tx, as PostgreSQL's check is one: on
// PostgreSQL the transaction's first statement takes the store's write
// lock, so that the check is made under it.
func (l *heldLease) HeldIn(ctx context.Context, tx dc.Tx) error {
	if _, err := tx.Meta(ctx, "test/lease"); err != nil && dc.ErrorCode(err) != dc.ENotFound {
		return err
	}
	l.h.mu.Lock()
	held := l.h.to == l.replica
	select {
	case <-l.lost:
		held = false
	default:
	}
	s := l.h.stalls[l.replica]
	if held {
		delete(l.h.stalls, l.replica)
	}
	l.h.mu.Unlock()
	if !held {
		return dc.ErrLeaseLost
	}
	if s != nil {
		close(s.stalled)
		<-s.resume
	}
	return nil
}

// newReplica starts another replica of the node on PostgreSQL n, on the
// same database, with its own server.
func newReplica(t *testing.T, n *testNode, leaser dc.Leaser, now func() time.Time) *testNode {
	t.Helper()
	r := &testNode{party: n.party, pgURL: n.pgURL, logs: &syncBuffer{}, leaser: leaser, now: now}
	r.proxy = newFaultProxy(t)
	r.start(t)
	t.Cleanup(func() { r.shutdown(t) })
	return r
}

// newLeasedNode is newNodeOn with a leaser of the pull lease and a clock
// (nil: the real one).
func newLeasedNode(t *testing.T, party, pgURL string, leaser dc.Leaser, now func() time.Time) *testNode {
	t.Helper()
	n := &testNode{party: party, pgURL: pgURL, logs: &syncBuffer{}, leaser: leaser, now: now}
	n.proxy = newFaultProxy(t)
	n.start(t)
	t.Cleanup(func() { n.shutdown(t) })
	ctx := t.Context()
	if _, err := n.mech.Access().AddParty(ctx, party, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := federation.Init(ctx, n.mech, n.proxy.URL()); err != nil {
		t.Fatal(err)
	}
	return n
}

// logGate sits between a node's fault proxy and its server and, while
// closed, holds the requests for its log until it opens.
type logGate struct {
	hs     *httptest.Server
	target string

	mu      sync.Mutex
	closed  bool
	open    chan struct{}
	waiting int
}

func newLogGate(t *testing.T, target string) *logGate {
	g := &logGate{target: target, open: make(chan struct{})}
	g.hs = httptest.NewServer(g)
	t.Cleanup(g.hs.Close)
	return g
}

func (g *logGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	held, open := g.closed && r.URL.Path == federation.LogPath, g.open
	if held {
		g.waiting++
	}
	g.mu.Unlock()
	if held {
		select {
		case <-open:
		case <-r.Context().Done():
			g.mu.Lock()
			g.waiting--
			g.mu.Unlock()
			return
		}
	}
	body, _ := io.ReadAll(r.Body)
	req, err := http.NewRequestWithContext(r.Context(), r.Method, g.target+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		hijackClose(w)
		return
	}
	req.Header = r.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		hijackClose(w)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// close holds the log requests from now on.
func (g *logGate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed, g.open = true, make(chan struct{})
}

// release lets the held requests through, and those after.
func (g *logGate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed, g.waiting = false, 0
	close(g.open)
}

// held returns how many requests are held.
func (g *logGate) held() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.waiting
}

// waitUntil polls cond until it holds, or fails the test after a while.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited too long for %s", what)
		}
	}
}

// replicated is alpha's node as two replicas on one PostgreSQL database,
// a1 holding the pull lease (handed by hand), and bravo's node, whose log
// alpha's replicas fetch through gate; they have converged.
type replicated struct {
	hand   *handedLease
	a1, a2 *testNode
	bravo  *testNode
	gate   *logGate
}

// now1 and now2, if not nil, are the replicas' clocks.
func newReplicated(t *testing.T, now1, now2 func() time.Time) *replicated {
	t.Helper()
	pg := pgtest.Database(t)
	r := &replicated{hand: newHandedLease("a1")}
	r.a1 = newLeasedNode(t, "alpha", pg, r.hand.leaser("a1"), now1)
	r.a2 = newReplica(t, r.a1, r.hand.leaser("a2"), now2)
	r.bravo = newNode(t, t.TempDir(), "bravo")
	r.gate = newLogGate(t, r.bravo.hs.URL)
	r.bravo.proxy.setTarget(r.gate.hs.URL)
	peerAll(t, r.a1, r.bravo)
	waitOperation(t, r.a1, r.declare(t), "bravo")
	waitConverged(t, r.a1, r.bravo)
	if !r.a1.node.Pulling() || r.a2.node.Pulling() {
		t.Fatalf("pulling: a1 %v, a2 %v; want a1 only", r.a1.node.Pulling(), r.a2.node.Pulling())
	}
	return r
}

// declare has bravo declare an operation, and returns its ID.
func (r *replicated) declare(t *testing.T) string {
	t.Helper()
	id := uuid.NewString()
	d := mechanism.Declaration{Volumes: []dc.Volume4D{volume(20, 20, 2, 0, 1000, time.Now().Add(3*time.Hour).Truncate(time.Second), time.Hour)}}
	if _, err := r.bravo.mech.Declare(t.Context(), r.bravo.actor(dc.RoleOperator), id, d, nil); err != nil {
		t.Fatal(err)
	}
	return id
}

// check tells a1 it lost the lease, waits until a2 and bravo converge,
// and checks that alpha shows no alert about bravo, and that its log
// holds bravo's operation id and each receipt once.
func (r *replicated) check(t *testing.T, id string) {
	t.Helper()
	r.hand.tell("a1")
	waitUntil(t, "a1 to stop pulling", func() bool { return !r.a1.node.Pulling() })
	waitConverged(t, r.a2, r.bravo)
	for _, n := range []*testNode{r.a1, r.a2} {
		if _, alerts := statusOf(t, n, "bravo"); len(alerts) > 0 {
			t.Errorf("alpha shows alerts about bravo: %q", alerts)
		}
	}
	for key, c := range receiptCounts(t, r.a2) {
		if c != 1 {
			t.Errorf("alpha's log holds %d receipts %s", c, key)
		}
	}
	evs, err := r.a2.mech.Events(t.Context(), dc.Actor{Role: dc.RoleAdmin}, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	copies := 0
	for _, e := range evs {
		if e.Subject != nil && e.Subject.ID == id && e.Type == dc.EventOperationDeclared {
			copies++
		}
	}
	if copies != 1 {
		t.Errorf("alpha's log holds bravo's declaration %d times", copies)
	}
}

// sharedMatchesOwn reports whether the links' states stored for the
// other replicas are those n shows as the replica that pulls.
func sharedMatchesOwn(t *testing.T, n *testNode) bool {
	t.Helper()
	st, err := n.node.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var b []byte
	if err := n.store.View(t.Context(), func(tx dc.Tx) (err error) { b, err = tx.Meta(t.Context(), "federation/links"); return err }); err != nil {
		return false
	}
	var recs map[string]struct {
		LastSeen  time.Time `json:"last_seen"`
		LastError string    `json:"last_error"`
	}
	if err := json.Unmarshal(b, &recs); err != nil {
		t.Fatal(err)
	}
	for _, p := range st.Peers {
		r, ok := recs[p.Key]
		if !ok || p.LastSeen == nil || !r.LastSeen.Equal(*p.LastSeen) || r.LastError != p.LastError {
			return false
		}
	}
	return len(st.Peers) > 0
}

// waitsForWriteLock reports whether a transaction on the database waits
// for an advisory lock (the store's write lock).
func waitsForWriteLock(t *testing.T, pgURL string) bool {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(t.Context()))
	var waiting bool
	if err := conn.QueryRow(t.Context(), `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))`).Scan(&waiting); err != nil {
		t.Fatal(err)
	}
	return waiting
}
