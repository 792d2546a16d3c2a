package mechanism

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// peerWrites runs peerWrite for each of ops, on every core: reading an
// operation's volumes and searching its conflicts ahead of the writer
// (searchAhead) are most of what applying a page of a peer's log costs
// outside the writer's transaction, and the writer is one. It returns
// each one's request, or its error.
func (m *Mechanism) peerWrites(ops []PeerOperation) ([]*writeRequest, []error) {
	reqs := make([]*writeRequest, len(ops))
	errs := make([]error, len(ops))
	workers := min(runtime.GOMAXPROCS(0), (len(ops)+peerWritesEach-1)/peerWritesEach)
	if workers <= 1 {
		for i, po := range ops {
			reqs[i], errs[i] = m.peerWrite(po)
		}
		return reqs, errs
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1) - 1)
				if k >= len(ops) {
					return
				}
				reqs[k], errs[k] = m.peerWrite(ops[k])
			}
		}()
	}
	wg.Wait()
	return reqs, errs
}

// peerWritesEach is how many operations make a worker of peerWrites
// worth starting.
const peerWritesEach = 4
