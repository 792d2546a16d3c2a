package mechanism

import (
	"context"
	"sync"

	dc "github.com/deconflict/deconflict"
)

// revocationReads shares the store's count of revocations among the
// requests that ask for it at the same time. Every authenticated request
// asks (see tokenCache), so that a token revoked by another process stops
// working at once; under load that was a store read per request, a tenth
// of a what-if check's time. A request may take the answer of a read
// that started after the request arrived, never of one that started
// before: that read may have missed a revocation committed before the
// request, and the request must see it. So requests that arrive while a
// read is under way wait for it to end and share the next one.
type revocationReads struct {
	mu  sync.Mutex
	gen uint64          // counts the reads started
	cur *revocationRead // the read under way, if any
}

type revocationRead struct {
	gen  uint64
	done chan struct{}
	n    int64
	err  error
}

// count returns the store's count of revocations, read after the call
// began.
func (r *revocationReads) count(ctx context.Context, rc dc.RevocationCounter) (int64, error) {
	r.mu.Lock()
	arrived := r.gen // a read numbered above this started after the call
	for {
		f := r.cur
		if f == nil {
			r.gen++
			f = &revocationRead{gen: r.gen, done: make(chan struct{})}
			r.cur = f
			r.mu.Unlock()
			// Others may wait for this read: the caller's cancellation
			// must not fail theirs.
			f.n, f.err = rc.RevokedTokens(context.WithoutCancel(ctx))
			r.mu.Lock()
			r.cur = nil
			close(f.done)
			r.mu.Unlock()
			return f.n, f.err
		}
		r.mu.Unlock()
		select {
		case <-f.done:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		if f.gen > arrived {
			return f.n, f.err
		}
		r.mu.Lock()
	}
}
