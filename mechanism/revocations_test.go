package mechanism

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// slowCounter counts revocations as a store would, taking a while to
// answer: it answers what was committed when the read began.
type slowCounter struct {
	revoked atomic.Int64
	reads   atomic.Int64
}

func (c *slowCounter) RevokedTokens(context.Context) (int64, error) {
	n := c.revoked.Load()
	c.reads.Add(1)
	time.Sleep(200 * time.Microsecond)
	return n, nil
}

// TestRevocationReadsSeeEarlierRevocations checks that a shared read of
// the revocation count never answers a caller with a count older than
// the revocations committed before it called, while calls at the same
// time share reads.
func TestRevocationReadsSeeEarlierRevocations(t *testing.T) {
	var (
		rc    slowCounter
		reads revocationReads
		wg    sync.WaitGroup
		calls atomic.Int64
	)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				if i%10 == 0 {
					rc.revoked.Add(1) // a revocation commits
				}
				before := rc.revoked.Load()
				n, err := reads.count(context.Background(), &rc)
				if err != nil {
					t.Error(err)
					return
				}
				calls.Add(1)
				if n < before {
					t.Errorf("count %d, but %d revocations were committed before the call", n, before)
					return
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%d calls, %d reads", calls.Load(), rc.reads.Load())
	if rc.reads.Load() >= calls.Load() {
		t.Errorf("%d reads for %d calls: none shared", rc.reads.Load(), calls.Load())
	}
}
