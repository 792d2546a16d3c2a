package federation_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/google/uuid"
)

// The federation benchmarks run two nodes on loopback, alpha's in the
// benchmark's process and bravo's in a child process (benchnode_test.go),
// each with its own SQLite store. CPU figures are per node: the CPU time
// of that node's process alone.

// BenchmarkReplication measures, between two nodes on loopback, how long
// a declaration on alpha's node takes to be applied on bravo's (from
// alpha's answer to bravo's commit), while alpha is asked for
// declarations at a steady rate, FED_RATE (default 1000/s) for 5 s. It
// reports the rate alpha answered, and each node's CPU time per
// declaration; "alone" is alpha without a peer at the same rate, whose
// CPU per declaration is what federation adds to. Run:
//
//	go test -run X -bench Replication -benchtime 1x ./federation
func BenchmarkReplication(b *testing.B) {
	rate := 1000
	if s := os.Getenv("FED_RATE"); s != "" {
		rate, _ = strconv.Atoi(s)
	}
	for _, peered := range []bool{false, true} {
		name := "alone"
		if peered {
			name = "with-peer"
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
				r := replicationRun(b, peered, rate, 5*time.Second)
				b.ReportMetric(r.rate, "declared/s")
				b.ReportMetric(float64(r.alphaCPU.Microseconds())/float64(r.declared), "alpha-cpu-us/op")
				if peered {
					b.ReportMetric(r.p50.Seconds()*1000, "p50-ms")
					b.ReportMetric(r.p99.Seconds()*1000, "p99-ms")
					b.ReportMetric(r.max.Seconds()*1000, "max-ms")
					b.ReportMetric(float64(r.measured), "measured")
					b.ReportMetric(float64(r.bravoCPU.Microseconds())/float64(r.declared), "bravo-cpu-us/op")
				}
			}
		})
	}
}

// profileBoth writes CPU profiles of both nodes while the benchmark
// measures, unless f is empty: alpha's to f, bravo's (if there is one)
// to f with ".bravo" added. It returns the function that stops them.
func profileBoth(b *testing.B, f string, bravo *peerProc) (stop func()) {
	if f == "" {
		return func() {}
	}
	out, err := os.Create(f)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(out); err != nil {
		b.Fatal(err)
	}
	if bravo != nil {
		bravo.call(b, "profile "+f+".bravo", nil)
	}
	return func() {
		pprof.StopCPUProfile()
		out.Close()
		if bravo != nil {
			bravo.call(b, "unprofile", nil)
		}
	}
}

// replication is what replicationRun measured.
type replication struct {
	p50, p99, max      time.Duration
	rate               float64 // declarations answered per second
	declared, measured int
	// CPU time of each node's process from the first declaration until
	// both nodes held each other's whole log.
	alphaCPU, bravoCPU time.Duration
}

// replicationRun asks alpha for declarations at rate for d (each in its
// own goroutine, on a fixed schedule: a slow answer does not slow the
// asking) and, if peered, measures their replication to bravo.
func replicationRun(b *testing.B, peered bool, rate int, d time.Duration) replication {
	dir := b.TempDir()
	alpha := newBenchNode(b, dir, "alpha")
	var bravo *peerProc
	if peered {
		bravo = startPeer(b, alpha, dir, "bravo")
		waitPair(b, alpha, bravo, 100*time.Millisecond)
		bravo.call(b, "watch", nil)
	}
	var mu sync.Mutex
	sent := map[string]time.Time{}
	var answered atomic.Int64
	var last atomic.Int64 // unix ns of the last answer
	b.ResetTimer()
	var stopProfiles func()
	if f := os.Getenv("FED_PROFILE"); f != "" {
		stopProfiles = profileBoth(b, f+"."+b.Name()[strings.LastIndex(b.Name(), "/")+1:], bravo)
	} else {
		stopProfiles = func() {}
	}
	var cpuB time.Duration
	if peered {
		cpuB = bravo.cpu(b)
	}
	cpuA := processCPU()
	start := time.Now()
	var wg sync.WaitGroup
	rnd := rand.New(rand.NewPCG(1, 2))
	var r replication
	for i := 0; ; i++ {
		at := start.Add(time.Duration(i) * time.Second / time.Duration(rate))
		if at.Sub(start) >= d {
			break
		}
		time.Sleep(time.Until(at))
		id := uuid.NewString()
		decl := randomDeclaration(rnd, "alpha", i)
		r.declared++
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := alpha.mech.Declare(b.Context(), alpha.actor(dc.RoleOperator), id, decl, nil); err != nil {
				b.Error(err)
				return
			}
			now := time.Now()
			mu.Lock()
			sent[id] = now
			mu.Unlock()
			answered.Add(1)
			last.Store(now.UnixNano())
		}()
	}
	wg.Wait()
	r.rate = float64(answered.Load()) / time.Unix(0, last.Load()).Sub(start).Seconds()
	if !peered {
		r.alphaCPU = processCPU() - cpuA
		stopProfiles()
		b.StopTimer()
		return r
	}
	waitPair(b, alpha, bravo, 20*time.Millisecond)
	r.alphaCPU, r.bravoCPU = processCPU()-cpuA, bravo.cpu(b)-cpuB
	stopProfiles()
	b.StopTimer()
	var seen map[string]int64
	bravo.call(b, "seen", &seen)
	var lat []time.Duration
	for id, t0 := range sent {
		if ns, ok := seen[id]; ok {
			lat = append(lat, time.Unix(0, ns).Sub(t0))
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) == 0 {
		b.Fatal("nothing measured")
	}
	r.p50, r.p99, r.max, r.measured = lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1], len(lat)
	return r
}

// BenchmarkCatchUp measures how long bravo's node takes to catch up with
// 10,000 declarations (CATCHUP_N) alpha's node made while their link was
// cut, until both nodes hold each other's whole log (bravo has applied
// every declaration and alpha every receipt bravo signed), and each
// node's CPU time for it. CATCHUP_PROFILE=FILE writes a CPU profile of
// alpha's side of the catch-up, and of bravo's to FILE.bravo. Run:
//
//	go test -run X -bench CatchUp -benchtime 1x ./federation
func BenchmarkCatchUp(b *testing.B) {
	n := 10000
	if s := os.Getenv("CATCHUP_N"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	for range b.N {
		dir := b.TempDir()
		alpha := newBenchNode(b, dir, "alpha")
		bravo := startPeer(b, alpha, dir, "bravo")
		waitPair(b, alpha, bravo, 100*time.Millisecond)
		alpha.cut.Store(true)
		var wg sync.WaitGroup
		for w := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rnd := rand.New(rand.NewPCG(3, uint64(w)))
				for i := range n / 16 {
					if _, err := alpha.mech.Declare(b.Context(), alpha.actor(dc.RoleOperator), uuid.NewString(), randomDeclaration(rnd, "alpha", i), nil); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		stopProfiles := profileBoth(b, os.Getenv("CATCHUP_PROFILE"), bravo)
		b.ResetTimer()
		cpuA, cpuB := processCPU(), bravo.cpu(b)
		start := time.Now()
		alpha.cut.Store(false)
		done := waitPair(b, alpha, bravo, 20*time.Millisecond)
		b.ReportMetric(done.Sub(start).Seconds(), "catch-up-s")
		b.ReportMetric((processCPU() - cpuA).Seconds(), "alpha-cpu-s")
		b.ReportMetric((bravo.cpu(b) - cpuB).Seconds(), "bravo-cpu-s")
		stopProfiles()
		b.StopTimer()
	}
}

// federatedDeclarations is how many operations BenchmarkDeclareFederated
// declares in each run: some seconds of a node's flat-out rate.
const federatedDeclarations = 8000

// BenchmarkDeclareFederated measures a node's own declarations (16
// operators at once, flat out, federatedDeclarations in all): the rate,
// and the node's own CPU time per declaration (its process's, from the
// first declaration until the peer, if any, has applied every one and
// the node has kept every receipt). Three runs compare it:
//
//   - alone;
//   - beside-a-node: alone, while another node, in a process of its own
//     and not its peer, declares as many operations of its own flat out;
//   - with-peer: with a peer following its log in another process; it
//     also reports the peer's CPU per declaration.
//
// On this machine the peer's process shares the node's cores, which
// makes the node's own work dearer (caches, memory, the scheduler) even
// though none of it is federation's; nodes of different parties run on
// different machines. beside-a-node pays that share, with a neighbour
// doing a node's work but less of it than the peer does (the peer also
// copies, receipts and serves), so with-peer against beside-a-node is
// what federation costs, if anything overstated; with-peer against alone
// is that and the shared machine together.
//
// All declare the same operations: a declaration's conflict search grows
// with the operations already live, so a run of a fixed length, in which
// the node alone declares more, would give it the dearer searches and
// hide part of what federation costs. Run:
//
//	go test -run X -bench DeclareFederated -benchtime 1x ./federation
func BenchmarkDeclareFederated(b *testing.B) {
	for _, name := range []string{"alone", "beside-a-node", "with-peer"} {
		peered := name == "with-peer"
		b.Run(name, func(b *testing.B) {
			for range b.N {
				dir := b.TempDir()
				alpha := newBenchNode(b, dir, "alpha")
				var bravo, neighbour *peerProc
				switch name {
				case "with-peer":
					bravo = startPeer(b, alpha, dir, "bravo")
					waitPair(b, alpha, bravo, 100*time.Millisecond)
				case "beside-a-node":
					neighbour = startNode(b, dir, "bravo")
				}
				b.ResetTimer()
				var stopProfiles func()
				if f := os.Getenv("FED_PROFILE"); f != "" {
					stopProfiles = profileBoth(b, f+"."+name, bravo)
				} else {
					stopProfiles = func() {}
				}
				var cpuB time.Duration
				if peered {
					cpuB = bravo.cpu(b)
				}
				cpuA := processCPU()
				pullsA := alpha.node.Pulls()
				neighbourDone := make(chan struct{})
				if neighbour != nil {
					go func() {
						defer close(neighbourDone)
						if err := neighbour.ask(fmt.Sprintf("declare %d", federatedDeclarations), nil); err != nil {
							b.Error(err)
						}
					}()
				} else {
					close(neighbourDone)
				}
				start := time.Now()
				if err := declareFlatOut(b.Context(), alpha, 5, federatedDeclarations); err != nil {
					b.Fatal(err)
				}
				took := time.Since(start)
				if peered {
					waitPair(b, alpha, bravo, 20*time.Millisecond)
				}
				n := float64(federatedDeclarations)
				b.ReportMetric(n/took.Seconds(), "declared/s")
				b.ReportMetric(float64((processCPU()-cpuA).Microseconds())/n, "own-cpu-us/op")
				if peered {
					b.ReportMetric(float64((bravo.cpu(b)-cpuB).Microseconds())/n, "peer-cpu-us/op")
					b.ReportMetric(float64(alpha.node.Pulls()-pullsA)/took.Seconds(), "pulls/s")
				}
				<-neighbourDone
				stopProfiles()
				b.StopTimer()
			}
		})
	}
}
