package federation_test

import (
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/google/uuid"
)

// BenchmarkReplication measures, between two nodes on loopback, how long
// a declaration on alpha's node takes to be applied on bravo's (from
// alpha's answer to bravo's commit), under a steady load of declarations
// at the rate given by -rate (default 1000/s) for 5 s. Run:
//
//	go test -run X -bench Replication -benchtime 1x ./federation
func BenchmarkReplication(b *testing.B) {
	for range b.N {
		p50, p99, got, n := replicationRun(b, 1000, 5*time.Second)
		b.ReportMetric(p50.Seconds()*1000, "p50-ms")
		b.ReportMetric(p99.Seconds()*1000, "p99-ms")
		b.ReportMetric(float64(got)/5, "declared/s")
		b.ReportMetric(float64(n), "measured")
	}
}

// replicationRun declares on alpha at rate for d and returns the p50 and
// p99 replication latency to bravo, the declarations made and measured.
func replicationRun(b *testing.B, rate int, d time.Duration) (p50, p99 time.Duration, declared, measured int) {
	dir := b.TempDir()
	alpha, bravo := newNode(b, dir, "alpha"), newNode(b, dir, "bravo")
	peerAll(b, alpha, bravo)
	waitConverged(b, alpha, bravo)
	var mu sync.Mutex
	sent := map[string]time.Time{}
	var lat []time.Duration
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() { // bravo's side: every operation.declared applied, as it commits
		defer close(watched)
		var after int64
		for {
			evs, err := bravo.mech.Events(b.Context(), dc.Actor{Role: dc.RoleAdmin}, after, 10000)
			if err != nil {
				return
			}
			now := time.Now()
			for _, e := range evs {
				after = e.Seq
				if e.Type == dc.EventOperationDeclared {
					mu.Lock()
					if t0, ok := sent[e.Subject.ID]; ok {
						lat = append(lat, now.Sub(t0))
					}
					mu.Unlock()
				}
			}
			select {
			case <-stop:
				return
			case <-bravo.mech.Changed():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	b.ResetTimer()
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	rnd := rand.New(rand.NewPCG(1, 2))
	for time.Now().Before(end) {
		<-tick.C
		id := uuid.NewString()
		decl := randomDeclaration(rnd, "alpha", declared)
		declared++
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := alpha.mech.Declare(b.Context(), alpha.actor(dc.RoleOperator), id, decl, nil); err != nil {
				b.Error(err)
				return
			}
			mu.Lock()
			sent[id] = time.Now()
			mu.Unlock()
		}()
	}
	wg.Wait()
	waitConverged(b, alpha, bravo)
	close(stop)
	<-watched
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) == 0 {
		b.Fatal("nothing measured")
	}
	return lat[len(lat)/2], lat[len(lat)*99/100], declared, len(lat)
}

// BenchmarkCatchUp measures how long bravo's node takes to catch up with
// 10,000 declarations alpha's node made while their link was cut, and
// the CPU time both nodes spent on it (user and system, of the whole
// process: a measure that depends less on what else the machine runs
// than the wall time). CATCHUP_PROFILE=FILE writes a CPU profile of the
// catch-up alone (-cpuprofile also covers the declarations). Run:
//
//	go test -run X -bench CatchUp -benchtime 1x ./federation
func BenchmarkCatchUp(b *testing.B) {
	n := 10000
	if s := os.Getenv("CATCHUP_N"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	for range b.N {
		dir := b.TempDir()
		alpha, bravo := newNode(b, dir, "alpha"), newNode(b, dir, "bravo")
		peerAll(b, alpha, bravo)
		waitConverged(b, alpha, bravo)
		alpha.proxy.faults(true, 0, 0, false)
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
		b.ResetTimer()
		start := time.Now()
		alpha.proxy.faults(false, 0, 0, false)
		cpu0 := cpuTime()
		if f := os.Getenv("CATCHUP_PROFILE"); f != "" {
			out, err := os.Create(f)
			if err != nil {
				b.Fatal(err)
			}
			if err := pprof.StartCPUProfile(out); err != nil {
				b.Fatal(err)
			}
			defer out.Close()
			defer pprof.StopCPUProfile()
		}
		waitConverged(b, alpha, bravo)
		b.ReportMetric(time.Since(start).Seconds(), "catch-up-s")
		b.ReportMetric((cpuTime() - cpu0).Seconds(), "catch-up-cpu-s")
		if os.Getenv("CATCHUP_LOGS") != "" {
			b.Log(alpha.logs.String(), bravo.logs.String())
		}
		b.StopTimer()
	}
}

// BenchmarkDeclareFederated measures a node's own declaration rate (16
// operators at once for 3 s) alone and with a peer following its log,
// on one machine (the peer's work competes for the same cores). Run:
//
//	go test -run X -bench DeclareFederated -benchtime 1x ./federation
func BenchmarkDeclareFederated(b *testing.B) {
	for _, peered := range []bool{false, true} {
		name := "alone"
		if peered {
			name = "with-peer"
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
				dir := b.TempDir()
				alpha := newNode(b, dir, "alpha")
				if peered {
					bravo := newNode(b, dir, "bravo")
					peerAll(b, alpha, bravo)
					waitConverged(b, alpha, bravo)
					if os.Getenv("FED_EXPERIMENT") == "cut-alpha-pull" {
						bravo.proxy.faults(true, 0, 0, false)
					}
					if os.Getenv("FED_EXPERIMENT") == "cut-bravo-pull" {
						alpha.proxy.faults(true, 0, 0, false)
					}
				}
				b.ResetTimer()
				var done sync.WaitGroup
				var mu sync.Mutex
				count := 0
				end := time.Now().Add(3 * time.Second)
				for w := range 16 {
					done.Add(1)
					go func() {
						defer done.Done()
						rnd := rand.New(rand.NewPCG(5, uint64(w)))
						for i := 0; time.Now().Before(end); i++ {
							if _, err := alpha.mech.Declare(b.Context(), alpha.actor(dc.RoleOperator), uuid.NewString(), randomDeclaration(rnd, "alpha", i), nil); err != nil {
								b.Error(err)
								return
							}
							mu.Lock()
							count++
							mu.Unlock()
						}
					}()
				}
				done.Wait()
				b.ReportMetric(float64(count)/3, "declared/s")
				b.StopTimer()
			}
		})
	}
}

// cpuTime returns the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
