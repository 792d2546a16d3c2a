package mechanism

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/geo"
)

// writer runs this process's writes to operations. It owns the index of
// live operations and the rev it reflects, queues writes and commits them
// in batches (group commit), catches the index up with other processes'
// commits before each batch (index.go, replica.go), and changes the index
// only once a batch committed.
//
// What a write does is not its business: each request carries a plan,
// which the writer hands, inside the batch's transaction, to run — the
// rules (Mechanism.runOne, write.go). So the path of one declaration can
// be read in operation.go and write.go without this file, and batching
// can be read here without the rules.
type writer struct {
	store dc.Store
	log   *slog.Logger
	stats *Stats
	// run applies the rules to one request inside a batch's transaction;
	// see Mechanism.runOne.
	run func(ctx context.Context, tx dc.Tx, b *batchState, req *writeRequest) error
	// end runs the rules once every request of a batch has run, in its
	// transaction before it commits: the node's receipts of its peers'
	// operations the batch applied (Mechanism.appendNodeReceipts). It
	// returns the last event seq it wrote, or 0.
	end func(ctx context.Context, tx dc.Tx, b *batchState) (int64, error)
	// notify tells waiters of new events, after each commit.
	notify func()
	// forwarder hands declarations to the writer replica (forward.go);
	// nil: this process writes its own. handing holds a token for each
	// hand-over waiting for its answer.
	forwarder Forwarder
	handing   chan struct{}
	// companion keeps the state of attached writes (see Attachment); it
	// is told when an attempt of a batch that carries attachments begins
	// and when the batch committed or failed.
	companion Companion

	// mu serialises write transactions of this process, so that the
	// index and rev change together with what was committed.
	mu    sync.Mutex
	index atomic.Pointer[geo.Index] // replaced whole on reload; readers need no lock
	rev   int64                     // highest event seq whose operation changes the index reflects
	// agreed is the agreement (agreement.go) of the settings the last
	// batch read, with which a declaration searches its conflicts ahead
	// of the write lock (see searchAhead); nil before the first batch.
	agreed atomic.Pointer[agreement]
	// checkAgreed is the agreement the last what-if check built, when the
	// last batch's did not match its settings (agreementFor).
	checkAgreed atomic.Pointer[agreement]
	// peers are the peers' settings (Federation.SetPeers); nil on a
	// single server.
	peers atomic.Pointer[peerSettings]
	// replica is what the writer knows of other processes' commits.
	replica replica
	// views are the encoded views of live operations what-if checks
	// listed (views.go): an operation's is dropped once a change of it
	// committed, and all of them when the index is replaced.
	views *viewCache
	// logged are the versions of this node's operations the writer
	// logged last, on a node with peers (federation_logged.go).
	logged *loggedVersions
	// entries are the entries of this node's log the writer committed
	// last, on a node with peers (federation_entries.go).
	entries *rememberedEntries

	// queue holds writes waiting for the writer; see write.
	queueMu sync.Mutex
	queue   []*writeRequest
	writing bool // a caller is running batches
	// callerBatches is the most batches a caller that became the writer
	// ran before it was answered: one, its own, by design of drain.
	callerBatches atomic.Int64
}

// newWriter returns a writer over store with an empty index.
func newWriter(store dc.Store, log *slog.Logger, stats *Stats, notify func()) *writer {
	w := &writer{store: store, log: log, stats: stats, notify: notify, views: newViewCache(0), logged: newLoggedVersions(),
		entries: &rememberedEntries{}}
	w.index.Store(geo.NewIndex())
	return w
}

// batchState is what every request of a batch reads alike, read once,
// and the changes to the index the batch makes.
type batchState struct {
	settings dc.Settings
	// agreed decides the minima of each pair and the notice (agreement.go).
	agreed  *agreement
	parties []*dc.Party
	// index holds the batch's changes to the index, which are made to it
	// once the batch has committed (geo.Changes); a request sees those
	// of the requests before it through index.Amend.
	index geo.Changes
	// received are the versions of peers' operations the batch's
	// requests applied, in the order applied, of which the batch's end
	// gives the node's receipts (appendNodeReceipts).
	received []received
	// entries are the entries the batch's changes and receipts logged,
	// on a node with peers, for the writer to remember once the batch
	// committed (federation_entries.go).
	entries []loggedEntry
}

// writeRequest is one change waiting for the writer.
type writeRequest struct {
	actor dc.Actor
	id    string
	plan  planFunc
	att   *Attachment // work of another interface in the same transaction, or nil
	// fwd is a declaration to hand to the writer replica, and here how
	// to write it in this process should the writer not take it; nil
	// for a write of this process (forward.go).
	fwd  *Forwarded
	here func() (*Result, error)
	done chan struct{}
	// Set by run.
	res     *Result
	err     error
	ch      *change
	lastSeq int64
	delta   int64
}

// write runs one change to operation id: the rules (run) plan it, detect
// conflicts, store the operation, its conflicts and events, and only
// after the commit is it answered. Concurrent writes are committed
// together (group commit): the first caller to find no writer at work
// becomes the writer and runs batches of everything queued, one after the
// other, until the queue is empty; the others wait for their answer. One
// disk flush serves a whole batch. Each request sees the ones before it,
// in the index and in the transaction; a request refused by the rules
// writes nothing, so it never needs to undo anything.
func (w *writer) write(ctx context.Context, a dc.Actor, id string, plan planFunc) (*Result, error) {
	req := &writeRequest{actor: a, id: id, plan: plan, done: make(chan struct{})}
	return w.enqueue(ctx, req)
}

// enqueue queues a write request and waits for its answer; see write.
func (w *writer) enqueue(ctx context.Context, req *writeRequest) (*Result, error) {
	w.queueMu.Lock()
	w.queue = append(w.queue, req)
	leader := !w.writing
	w.writing = true
	w.queueMu.Unlock()

	if leader {
		w.drain(context.WithoutCancel(ctx), req)
	}
	<-req.done
	return req.res, req.err
}

// drain runs the queued writes in batches until the queue is empty. The
// caller that became the writer (mine) runs the first batch, which holds
// its own request, and answers as soon as that batch is done: what queued
// meanwhile is drained by a goroutine of its own. A caller that drained
// the queue itself would wait, under a load that never lets the queue
// empty, for every batch after its own.
func (w *writer) drain(ctx context.Context, mine *writeRequest) {
	ran := int64(0)
	if mine != nil {
		defer func() {
			for old := w.callerBatches.Load(); ran > old && !w.callerBatches.CompareAndSwap(old, ran); old = w.callerBatches.Load() {
			}
		}()
	}
	for {
		w.queueMu.Lock()
		batch := w.queue
		w.queue = nil
		if len(batch) == 0 {
			w.writing = false
			w.queueMu.Unlock()
			return
		}
		w.queueMu.Unlock()
		if w.forwarder != nil {
			batch = w.handOver(ctx, batch)
		}
		if len(batch) > 0 {
			w.mu.Lock()
			w.runBatch(ctx, batch)
			w.mu.Unlock()
		}
		ran++
		if mine != nil {
			w.queueMu.Lock()
			if len(w.queue) == 0 {
				w.writing = false
				w.queueMu.Unlock()
				return
			}
			w.queueMu.Unlock()
			go w.drain(ctx, nil)
			return
		}
	}
}

// runBatch runs queued writes in one transaction. It is called with w.mu
// held.
func (w *writer) runBatch(ctx context.Context, batch []*writeRequest) {
	began := time.Now()
	w.catchUpOutside(ctx)
	revBefore := w.rev
	attempts := 0
	var b batchState
	attached := false
	for _, req := range batch {
		attached = attached || req.att != nil
	}
	ids := make([]string, len(batch))
	for i, req := range batch {
		ids[i] = req.id
	}
	err := w.store.Update(ctx, func(tx dc.Tx) error {
		if p, ok := tx.(dc.Prefetcher); ok {
			// What every batch reads, read in the round trip that
			// takes the lock rather than one by one under it.
			p.Prefetch(ids, w.rev)
		}
		if attached {
			w.companion.BeginAttempt()
		}
		if attempts++; attempts > 1 || w.replica.dirty.Load() {
			// The store runs fn again after a failed attempt, or an
			// earlier batch failed and could not reload: start again
			// from the store. (A batch's own changes reach the index
			// only once it commits, but a failed attempt's catch-up
			// moved rev.)
			if err := w.reload(ctx, tx); err != nil {
				return err
			}
		}
		if err := w.catchUp(ctx, tx, &w.stats.CaughtUpInBatch); err != nil {
			return err
		}
		b.index.Reset()
		b.received = b.received[:0]
		b.entries = b.entries[:0]
		var err error
		if b.settings, err = tx.Settings(ctx); err != nil {
			return err
		}
		b.agreed = w.agree(b.settings)
		if b.parties, err = tx.Parties(ctx); err != nil {
			return err
		}
		for _, req := range batch {
			req.res, req.err, req.ch = nil, nil, nil
			if err := w.run(ctx, tx, &b, req); err != nil {
				return err // a store failure: the whole batch fails
			}
			if ch := req.ch; ch != nil {
				if ch.op.State.Live() {
					b.index.Insert(ch.op.ID, ch.op.Party, ch.vols)
				} else {
					b.index.Remove(ch.op.ID)
				}
				w.rev = max(w.rev, req.lastSeq)
			}
		}
		if w.end != nil {
			last, err := w.end(ctx, tx, &b)
			if err != nil {
				return err
			}
			// Events of this batch: the next catch-up need not read
			// past them.
			w.rev = max(w.rev, last)
		}
		return nil
	})
	if err != nil {
		// Nothing of the batch was kept, and its changes never reached
		// the index, but rev may hold some of it: rev must not stay
		// ahead of the store, or the next catch-up would skip other
		// processes' commits of those seqs.
		w.rev = revBefore
		if rerr := w.store.View(ctx, func(tx dc.Tx) error { return w.reload(ctx, tx) }); rerr != nil {
			w.log.Error("reload index after a failed write; the next write reloads first", slog.Any("error", rerr))
			w.replica.dirty.Store(true)
		} else {
			w.replica.dirty.Store(false)
		}
	}
	if attached {
		w.companion.EndBatch(err == nil)
	}
	if err == nil {
		w.index.Load().Apply(&b.index)
		w.entries.add(b.entries)
		for _, req := range batch {
			if req.ch != nil {
				w.views.drop(req.ch.op.ID)
				if req.ch.logged != nil {
					w.logged.add(*req.ch.logged)
				}
			}
		}
		w.replica.dirty.Store(false)
		w.replica.seen.Store(w.rev)
		w.notify()
	}
	// Counted before any request is answered, so that a caller reading
	// the counters after its answer sees its batch in them.
	w.stats.Batches.Add(1)
	w.stats.BatchedWrites.Add(int64(len(batch)))
	w.stats.BatchNanos.Add(int64(time.Since(began)))
	for _, req := range batch {
		switch {
		case err != nil && req.err == nil:
			req.res, req.err = nil, err
		case req.ch != nil:
			w.stats.addOpenConflicts(req.delta)
		}
		close(req.done)
	}
}
