// Package gcfloor keeps the garbage collector from running while the heap
// is small. Under the runtime's default (GOGC=100) a cycle starts once the
// heap has doubled since the last one: a server with a live heap of a few
// tens of MiB that allocates tens of MiB a second collects several times a
// second, and while a cycle marks, a quarter of the processors mark
// instead of serving. A floor raises the goal of every cycle to at least
// the floor, and changes nothing once the live heap passes half of it.
package gcfloor

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

var (
	once sync.Once
	// adjusted counts the cycles after which the collector's goal was
	// worked out again, for tests.
	adjusted atomic.Int64
)

// Server is the floor of a deconflict server (serve): the heap the
// collector lets it grow to before it collects, whatever its live heap.
// The indexes of the live operations and intents are dense with
// pointers, so a cycle costs in proportion to them, and under load the
// default (a cycle each time the heap doubles) spends a large share of
// the CPU marking. A server whose live heap is over half of it collects
// as the Go runtime does by default.
const Server = 1 << 30

// Set makes every garbage collection cycle aim at a heap of at least
// floor bytes for as long as the process runs, unless the environment
// sets GOGC or GOMEMLIMIT: the operator's choice then stands, and Set
// reports false. It takes effect after the next cycle, and is worked out
// again after each, from the live heap that cycle found. Calls after the
// first do nothing.
func Set(floor uint64) bool {
	set := false
	once.Do(func() {
		for _, v := range []string{"GOGC", "GOMEMLIMIT"} {
			if _, ok := os.LookupEnv(v); ok {
				return
			}
		}
		(&tuner{floor: floor, percent: 100}).arm()
		set = true
	})
	return set
}

// tuner sets the collector's GOGC after every cycle.
type tuner struct {
	floor   uint64
	percent int // the GOGC it set last
}

// sentinel is garbage at every cycle: its finalizer runs after each.
type sentinel struct{ t *tuner }

func (t *tuner) arm() {
	runtime.SetFinalizer(&sentinel{t}, func(s *sentinel) {
		s.t.adjust()
		s.t.arm()
	})
}

// adjust sets GOGC for the live heap the last cycle found.
func (t *tuner) adjust() {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 {
		if p := percentFor(s[0].Value.Uint64(), t.floor); p != t.percent {
			debug.SetGCPercent(p)
			t.percent = p
		}
	}
	adjusted.Add(1)
}

// percentFor is the GOGC under which the goal of the cycle after one that
// found live bytes live is max(2×live, floor): 100, or more while live is
// under half of floor (at most 10,000).
func percentFor(live, floor uint64) int {
	live = max(live, 1)
	if live >= floor/2 {
		return 100
	}
	return int(min((floor-live)*100/live, 10000))
}
