package federation_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/federation"
	dchttp "github.com/deconflict/deconflict/http"
	"github.com/deconflict/deconflict/internal/gcfloor"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/sqlite"
	"github.com/google/uuid"
)

// The benchmarks run each node in a process of its own, as two machines
// would, so that each node's CPU time is its own (getrusage of its
// process) and not the sum of both. A benchNode is one node without the
// fault proxy of the tests, whose copy of every byte would be charged to
// the node it fronts: its own SQLite store, its own HTTP server on
// loopback, and a switch that cuts its link (it drops every peer request
// while cut). The node measured runs in the benchmark's process; its peer
// runs in a child process (TestBenchPeer), driven by lines on its
// standard input.

type benchNode struct {
	party string
	store dc.Store
	mech  *mechanism.Mechanism
	node  *federation.Node
	hs    *httptest.Server
	desc  *federation.Descriptor
	cut   atomic.Bool
	stop  context.CancelFunc
	done  chan struct{}
}

// newBenchNode starts a node hosting party, with its store in dir.
func newBenchNode(tb testing.TB, dir, party string) *benchNode {
	tb.Helper()
	gcfloor.Set(gcfloor.Server) // the collector as serve runs it
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(dir, party+".db"))
	if err != nil {
		tb.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	n := &benchNode{party: party, store: store, mech: mechanism.New(store, mechanism.Options{Logger: log})}
	if err := n.mech.Load(ctx); err != nil {
		tb.Fatal(err)
	}
	if _, err := n.mech.Access().AddParty(ctx, party, ""); err != nil {
		tb.Fatal(err)
	}
	n.hs = httptest.NewUnstartedServer(nil)
	if n.desc, err = federation.Init(ctx, n.mech, "http://"+n.hs.Listener.Addr().String()); err != nil {
		tb.Fatal(err)
	}
	n.node = federation.New(n.mech, federation.Options{Logger: log, Refresh: 100 * time.Millisecond})
	if _, err := n.node.Refresh(ctx); err != nil {
		tb.Fatal(err)
	}
	srv := dchttp.NewServer(n.mech, dchttp.Options{Logger: log, Federation: &dchttp.FederationOptions{
		Status: func(ctx context.Context) (any, error) { return n.node.Status(ctx) },
		Peers:  n.node.Handler(),
	}})
	n.hs.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.cut.Load() && strings.HasPrefix(r.URL.Path, "/federation/") {
			hijackClose(w)
			return
		}
		srv.ServeHTTP(w, r)
	})
	n.hs.Start()
	rctx, cancel := context.WithCancel(ctx)
	n.stop, n.done = cancel, make(chan struct{})
	go func() { defer close(n.done); n.node.Run(rctx) }()
	tb.Cleanup(func() {
		n.stop()
		<-n.done
		n.hs.CloseClientConnections()
		n.hs.Close()
		_ = n.store.Close()
	})
	return n
}

// benchState is how far a node's log and its pulls are: its log's size,
// and per peer key how much of the peer's log it applied and verified.
type benchState struct {
	Size  int64               `json:"size"`
	Peers map[string][2]int64 `json:"peers"`
}

func (n *benchNode) state(ctx context.Context) (benchState, error) {
	s := benchState{Peers: map[string][2]int64{}}
	err := n.store.View(ctx, func(tx dc.Tx) error {
		var err error
		if s.Size, err = tx.LastSeq(ctx); err != nil {
			return err
		}
		peers, err := tx.(dc.FederationTx).Peers(ctx)
		for _, p := range peers {
			s.Peers[p.Key] = [2]int64{p.Applied, p.Verified}
		}
		return err
	})
	return s, err
}

// pairConverged reports whether a and b hold each other's whole log,
// verified and applied.
func pairConverged(a, b benchState, aKey, bKey string) bool {
	return a.Peers[bKey] == [2]int64{b.Size, b.Size} && b.Peers[aKey] == [2]int64{a.Size, a.Size}
}

// processCPU is the CPU time (user and system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peerProc is the peer node in its child process.
type peerProc struct {
	desc *federation.Descriptor
	in   io.WriteCloser
	out  *bufio.Scanner
	cmd  *exec.Cmd
}

// peerReply prefixes the child's answers on its standard output.
const peerReply = "fedpeer: "

// startPeer starts a node hosting party in a child process, with its
// store in dir, and makes it and n peers of each other.
func startPeer(tb testing.TB, n *benchNode, dir, party string) *peerProc {
	tb.Helper()
	p := startNode(tb, dir, party)
	d, _ := json.Marshal(n.desc)
	p.call(tb, "peer "+string(d), nil)
	if _, err := federation.AddPeer(tb.Context(), n.mech, p.desc); err != nil {
		tb.Fatal(err)
	}
	return p
}

// startNode starts a node hosting party in a child process, with its
// store in dir, peer of none.
func startNode(tb testing.TB, dir, party string) *peerProc {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchPeer$", "-test.count=1")
	cmd.Env = append(os.Environ(), "FED_BENCH_PEER_DIR="+dir, "FED_BENCH_PEER_PARTY="+party)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	p := &peerProc{in: in, out: bufio.NewScanner(out), cmd: cmd}
	p.out.Buffer(nil, 64<<20)
	tb.Cleanup(func() {
		_ = p.in.Close() // the child ends when its input does
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	p.desc = new(federation.Descriptor)
	p.call(tb, "describe", p.desc)
	return p
}

// call sends the child a command and reads its answer into out.
func (p *peerProc) call(tb testing.TB, cmd string, out any) {
	tb.Helper()
	if err := p.ask(cmd, out); err != nil {
		tb.Fatal(err)
	}
}

// ask sends the child a command and reads its answer into out; it may
// run on any goroutine, one command at a time.
func (p *peerProc) ask(cmd string, out any) error {
	if _, err := fmt.Fprintln(p.in, cmd); err != nil {
		return fmt.Errorf("peer process: %s: %v", cmd, err)
	}
	for p.out.Scan() {
		line, ok := strings.CutPrefix(p.out.Text(), peerReply)
		if !ok {
			continue // the test framework's own output
		}
		if msg, bad := strings.CutPrefix(line, "error "); bad {
			return fmt.Errorf("peer process: %s: %s", cmd, msg)
		}
		if out != nil {
			if err := json.Unmarshal([]byte(line), out); err != nil {
				return fmt.Errorf("peer process: %s: %v", cmd, err)
			}
		}
		return nil
	}
	return fmt.Errorf("peer process: %s: no answer (%v)", cmd, p.out.Err())
}

// declareFlatOut declares n operations of n's party, random about the
// same place (randomDeclaration), by 16 operators at once as fast as the
// node takes them.
func declareFlatOut(ctx context.Context, node *benchNode, seed uint64, n int) error {
	var done sync.WaitGroup
	var claimed atomic.Int64
	errs := make(chan error, 16)
	for w := range 16 {
		done.Add(1)
		go func() {
			defer done.Done()
			rnd := rand.New(rand.NewPCG(seed, uint64(w)))
			for i := 0; claimed.Add(1) <= int64(n); i++ {
				if _, err := node.mech.Declare(ctx, node.actor(dc.RoleOperator), uuid.NewString(), randomDeclaration(rnd, node.party, i), nil); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	done.Wait()
	close(errs)
	return <-errs
}

func (p *peerProc) state(tb testing.TB) benchState {
	var s benchState
	p.call(tb, "state", &s)
	return s
}

func (p *peerProc) cpu(tb testing.TB) time.Duration {
	var ns int64
	p.call(tb, "cpu", &ns)
	return time.Duration(ns)
}

// waitPair waits until n and its peer hold each other's whole log, and
// returns when it first saw them so (it looks every poll, and once more
// to see that nothing moved).
func waitPair(tb testing.TB, n *benchNode, p *peerProc, poll time.Duration) time.Time {
	tb.Helper()
	deadline := time.Now().Add(120 * time.Second)
	var at time.Time
	var prev [2]int64
	for time.Now().Before(deadline) {
		a, err := n.state(tb.Context())
		if err != nil {
			tb.Fatal(err)
		}
		b := p.state(tb)
		now := time.Now()
		switch {
		case !pairConverged(a, b, n.desc.Key, p.desc.Key):
			at = time.Time{}
		case !at.IsZero() && prev == [2]int64{a.Size, b.Size}:
			return at
		default:
			at, prev = now, [2]int64{a.Size, b.Size}
		}
		time.Sleep(poll)
	}
	tb.Fatal("the nodes did not converge")
	return time.Time{}
}

// TestBenchPeer is the peer node of the benchmarks, run by them in a
// process of its own (startPeer); it does nothing in a test run. It
// answers, one line each, the commands on its standard input:
//
//	describe          its descriptor
//	peer DESCRIPTOR   trust the node measured
//	state             benchState
//	cpu               its process's CPU time, in ns
//	watch             start noting when each declaration is applied here
//	seen              operation ID → unix ns it was applied, since watch
//	profile FILE      write a CPU profile to FILE until "unprofile"
//	declare N         declare N operations of its own flat out (declareFlatOut)
func TestBenchPeer(t *testing.T) {
	dir, party := os.Getenv("FED_BENCH_PEER_DIR"), os.Getenv("FED_BENCH_PEER_PARTY")
	if dir == "" {
		t.Skip("the peer node of the federation benchmarks, which start it themselves")
	}
	n := newBenchNode(t, dir, party)
	var mu sync.Mutex
	seen := map[string]int64{}
	reply := func(v any, err error) {
		if err != nil {
			fmt.Printf("%serror %v\n", peerReply, strings.ReplaceAll(err.Error(), "\n", " "))
			return
		}
		b, _ := json.Marshal(v)
		fmt.Printf("%s%s\n", peerReply, b)
	}
	var prof *os.File
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(nil, 1<<20)
	for in.Scan() {
		cmd, arg, _ := strings.Cut(in.Text(), " ")
		switch cmd {
		case "describe":
			reply(n.desc, nil)
		case "peer":
			var d federation.Descriptor
			err := json.Unmarshal([]byte(arg), &d)
			if err == nil {
				_, err = federation.AddPeer(t.Context(), n.mech, &d)
			}
			reply(struct{}{}, err)
		case "state":
			reply(n.state(t.Context()))
		case "cpu":
			reply(processCPU().Nanoseconds(), nil)
		case "watch":
			go watchDeclared(t.Context(), n.mech, func(id string, at time.Time) {
				mu.Lock()
				seen[id] = at.UnixNano()
				mu.Unlock()
			})
			reply(struct{}{}, nil)
		case "seen":
			mu.Lock()
			reply(seen, nil)
			mu.Unlock()
		case "profile":
			f, err := os.Create(arg)
			if err == nil {
				prof = f
				err = pprof.StartCPUProfile(f)
			}
			reply(struct{}{}, err)
		case "declare":
			count, err := strconv.Atoi(arg)
			if err == nil {
				err = declareFlatOut(t.Context(), n, 7, count)
			}
			reply(struct{}{}, err)
		case "unprofile":
			pprof.StopCPUProfile()
			reply(struct{}{}, prof.Close())
		default:
			reply(nil, fmt.Errorf("unknown command %q", cmd))
		}
	}
}

// watchDeclared calls fn with each operation declared (or replicated)
// on m from now on and the time its commit was seen, until ctx ends.
func watchDeclared(ctx context.Context, m *mechanism.Mechanism, fn func(id string, at time.Time)) {
	var after int64
	if err := m.Store().View(ctx, func(tx dc.Tx) (err error) { after, err = tx.LastSeq(ctx); return err }); err != nil {
		return
	}
	for {
		changed := m.Changed()
		evs, err := m.Events(ctx, dc.Actor{Role: dc.RoleAdmin}, after, 10000)
		if err != nil {
			return
		}
		now := time.Now()
		for _, e := range evs {
			after = e.Seq
			if e.Type == dc.EventOperationDeclared && e.Subject != nil {
				fn(e.Subject.ID, now)
			}
		}
		if len(evs) > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// actor returns an actor of the node's party.
func (n *benchNode) actor(role dc.Role) dc.Actor { return dc.Actor{Party: n.party, Role: role} }
