package mechanism

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	dc "github.com/deconflict/deconflict"
)

// Several replicas on one store all decide their writes under the
// store's one write lock, each in batches of its own callers' writes.
// Declarations can instead be written by one of them: a replica that
// does not hold the writer lease hands the declarations its writer
// queued to the one that does (a Forwarder does the carrying), which
// runs them in its own batches beside its callers' and sends the
// outcomes back. The batches are then as large as one replica's, and the
// writer catches up with almost nothing before it decides. Exactness does
// not rest on this: every write transaction still takes the lock and
// catches up first, whichever replica runs it, so a declaration written
// where it arrived (no writer known, or the writer not reachable) is as
// exact as a forwarded one.

// ErrNotForwarded is what a Forwarder returns when it handed nothing to
// a writer that could have applied it: this process should write the
// declarations itself.
var ErrNotForwarded = errors.New("not forwarded: write here")

// forwardTimeout bounds how long a batch handed to the writer may take to
// be answered; past it, its outcome is unknown and its callers are told
// to try again.
const forwardTimeout = 30 * time.Second

// A Forwarder hands declarations to the replica that holds the writer
// lease.
type Forwarder interface {
	// Active reports whether declarations should be handed over now:
	// another replica holds the writer lease, as far as this one knows,
	// and handing over did not just fail.
	Active() bool
	// Forward hands the declarations to the writer and returns their
	// outcomes, in order. ErrNotForwarded means that nobody applied
	// any of them (the writer could not be reached, or it no longer
	// holds the lease); any other error that their outcome is unknown.
	Forward(ctx context.Context, ds []Forwarded) ([]ForwardedOutcome, error)
}

// Forwarded is a declaration handed to the writer: Declare's arguments.
type Forwarded struct {
	Actor       dc.Actor
	ID          string
	Declaration Declaration
	IfMatch     *int
}

// ForwardedOutcome is what became of a forwarded declaration: Declare's
// results.
type ForwardedOutcome struct {
	Result *Result
	Err    error
}

// SetForwarder makes the mechanism hand its declarations to the writer
// through f while f is Active. Call it before serving.
func (rp Replicas) SetForwarder(f Forwarder) {
	m := rp.m
	m.writer.forwarder = f
	m.writer.handing = make(chan struct{}, maxHandOvers)
}

// maxHandOvers is how many hand-overs may wait for the writer's answer at
// once. A hand-over is answered when the writer's batch that carries it
// commits, at the moment the writer begins its next batch: a replica
// that waited for that answer before handing over what queued meanwhile
// would miss that next batch, and its callers would wait two of the
// writer's batches instead of one. Past this many, declarations queue
// here and go together.
const maxHandOvers = 4

// Forwarding reports whether this process hands its declarations to the
// writer replica now.
func (rp Replicas) Forwarding() bool { return rp.m.writer.forwarding() }

// ApplyForwarded runs declarations another replica handed over, as if
// they had been declared here (never handing them on), and returns their
// outcomes in order. They join this process's batches like its own
// callers' declarations.
func (rp Replicas) ApplyForwarded(ctx context.Context, ds []Forwarded) []ForwardedOutcome {
	m := rp.m
	out := make([]ForwardedOutcome, len(ds))
	var wg sync.WaitGroup
	for i := range ds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := &ds[i]
			res, err := m.declare(ctx, d.Actor, d.ID, d.Declaration, d.IfMatch, nil, true)
			out[i] = ForwardedOutcome{Result: res, Err: err}
		}()
	}
	wg.Wait()
	m.stats.ForwardedIn.Add(int64(len(ds)))
	return out
}

// forwarding reports whether declarations are to be handed to the writer.
func (w *writer) forwarding() bool { return w.forwarder != nil && w.forwarder.Active() }

// forwardDeclaration queues a declaration to be handed to the writer;
// here is how to write it in this process instead, should the writer not
// take it.
func (w *writer) forwardDeclaration(ctx context.Context, f Forwarded, here func() (*Result, error)) (*Result, error) {
	req := &writeRequest{actor: f.Actor, id: f.ID, fwd: &f, here: here, done: make(chan struct{})}
	return w.enqueue(ctx, req)
}

// handOver hands the requests of batch that are to be forwarded to the
// writer, at most maxForward at a time, without waiting for the answers
// (see maxHandOvers), and returns the others, to be run here. It is
// called without w.mu: a check need not wait for the writer.
func (w *writer) handOver(ctx context.Context, batch []*writeRequest) []*writeRequest {
	var fwd []*writeRequest
	rest := batch[:0:0]
	for _, req := range batch {
		if req.fwd != nil {
			fwd = append(fwd, req)
		} else {
			rest = append(rest, req)
		}
	}
	for len(fwd) > 0 {
		n := min(len(fwd), maxForward)
		part := fwd[:n]
		w.handing <- struct{}{}
		go func() {
			defer func() { <-w.handing }()
			w.handOverPart(ctx, part)
		}()
		fwd = fwd[n:]
	}
	return rest
}

// maxForward is the most declarations handed to the writer at once.
const maxForward = 128

// handOverPart hands requests to the writer and answers them; those the
// writer did not take are written here, each as a new request. See
// handOver.
func (w *writer) handOverPart(ctx context.Context, fwd []*writeRequest) {
	ds := make([]Forwarded, len(fwd))
	for i, req := range fwd {
		ds[i] = *req.fwd
	}
	fctx, cancel := context.WithTimeout(ctx, forwardTimeout)
	outs, err := w.forwarder.Forward(fctx, ds)
	cancel()
	switch {
	case errors.Is(err, ErrNotForwarded):
		// Nobody applied them: write them here. Each is queued anew,
		// and waits for this writer's next batch.
		w.stats.ForwardFallbacks.Add(int64(len(fwd)))
		for _, req := range fwd {
			go func() {
				req.res, req.err = req.here()
				close(req.done)
			}()
		}
		return
	case err == nil && len(outs) != len(fwd):
		err = errors.New("the writer answered a different number of declarations")
	}
	if err != nil {
		w.log.Warn("declarations handed to the writer replica got no answer; their callers are told to try again",
			slog.Int("declarations", len(fwd)), slog.Any("error", err))
		w.stats.ForwardFailures.Add(int64(len(fwd)))
	} else {
		w.stats.ForwardedOut.Add(int64(len(fwd)))
	}
	for i, req := range fwd {
		if err != nil {
			req.res, req.err = nil, errForwardUnknown
		} else {
			req.res, req.err = outs[i].Result, outs[i].Err
		}
		close(req.done)
	}
}

// errForwardUnknown answers a declaration whose hand-over to the writer
// got no answer: it may or may not have been written, and a retry of the
// same PUT finds out.
var errForwardUnknown = &dc.Error{Code: dc.EUnavailable,
	Message: "the replica that writes declarations did not answer; the declaration may or may not have been written: try again"}
