package mechanism

import (
	"context"
	"sync"

	dc "github.com/deconflict/deconflict"
)

// revocationReads shares the store's count of revocations among the
// requests that ask for it at the same time. Every authenticated request
// whose store may have changed asks (see tokenCache), so that a token
// revoked by another process stops working at once. A request may take
// the answer of a read that started after the request arrived, never of
// one that started before: that read may have missed a revocation
// committed before the request, and the request must see it. So requests
// that arrive while a read is under way wait for it to end and share the
// next one.
type revocationReads struct {
	mu  sync.Mutex
	gen uint64          // counts the reads started
	cur *revocationRead // the read under way, if any
}

// revocationRead is one read of the count, numbered gen. If the store
// marks its commits (dc.CommitWatcher), mark is its mark taken just
// before the count was read (marked false if it could not tell): while
// the mark stays the same, so does the count.
type revocationRead struct {
	gen    uint64
	done   chan struct{}
	mark   dc.CommitMark
	marked bool
	n      int64
	err    error
}

// count returns a read of the store's count of revocations that began
// after the call did. cw, if not nil, marks the store's commits.
func (r *revocationReads) count(ctx context.Context, rc dc.RevocationCounter, cw dc.CommitWatcher) (*revocationRead, error) {
	r.mu.Lock()
	arrived := r.gen // a read numbered above this started after the call
	for {
		f := r.cur
		if f == nil {
			r.gen++
			f = &revocationRead{gen: r.gen, done: make(chan struct{})}
			r.cur = f
			r.mu.Unlock()
			// The mark first: a commit after it shows as a new mark,
			// whether or not the count saw it.
			if cw != nil {
				f.mark, f.marked = cw.CommitMark()
			}
			// Others may wait for this read: the caller's cancellation
			// must not fail theirs.
			f.n, f.err = rc.RevokedTokens(context.WithoutCancel(ctx))
			r.mu.Lock()
			r.cur = nil
			close(f.done)
			r.mu.Unlock()
			return f, f.err
		}
		r.mu.Unlock()
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if f.gen > arrived {
			return f, f.err
		}
		r.mu.Lock()
	}
}
