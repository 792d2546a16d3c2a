package mechanism

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/geo"
	"github.com/google/uuid"
)

// change is what a write does to one operation.
type change struct {
	op             *dc.Operation // the operation as it will be
	prev           *dc.Operation // as it was; nil on create
	vols           []geo.Volume  // the parsed volumes of op
	geom           []byte        // geo.EncodeVolumes(vols), or nil
	volumesChanged bool
	// ahead is the conflict check of vols searched before the write lock,
	// or nil.
	ahead *aheadCheck
	// created holds the conflicts updateConflicts opened for the first
	// time: no duty about them can exist yet.
	created map[*dc.Conflict]bool
	// forceActive lets the operation become active with open conflicts
	// (Attachment.ActivateDespiteConflicts).
	forceActive bool
}

// sharedUnchanged reports whether the change leaves the operation as other
// parties see it as it was, but for its version: only its notes changed,
// or its callsign while it is not shared.
func (ch *change) sharedUnchanged() bool {
	op, prev := ch.op, ch.prev
	return prev != nil && !ch.volumesChanged && op.State == prev.State && op.Priority == prev.Priority &&
		op.ShareCallsign == prev.ShareCallsign && (!op.ShareCallsign || equalPtr(op.Callsign, prev.Callsign))
}

// planFunc decides the change to operation id given its current state
// (nil if it does not exist). A nil change means nothing to do: the
// operation is answered as it stands.
type planFunc func(tx dc.Tx, cur *dc.Operation) (*change, error)

// batchState is what every request of a batch reads alike, read once,
// and the changes to the index the batch makes.
type batchState struct {
	settings dc.Settings
	parties  []*dc.Party
	// index holds the batch's changes to the index, which are made to it
	// once the batch has committed (geo.Changes); a request sees those
	// of the requests before it through index.Amend.
	index geo.Changes
}

// writeRequest is one change waiting for the writer.
type writeRequest struct {
	actor dc.Actor
	id    string
	plan  planFunc
	att   *Attachment // work of another interface in the same transaction, or nil
	done  chan struct{}
	// Set by the writer.
	res     *Result
	err     error
	ch      *change
	lastSeq int64
	delta   int64
}

// write runs one change to an operation: plan it, detect conflicts, store
// the operation, its conflicts and events, and only after the commit
// answer. Concurrent writes are committed together (group commit): the
// first caller to find no writer at work becomes the writer and runs
// batches of everything queued, one after the other, until the queue is
// empty; the others wait for their answer. One disk flush serves a whole
// batch. Each request sees the ones before it, in the index and in the
// transaction; a request refused by the rules writes nothing, so it never
// needs to undo anything.
func (m *Mechanism) write(ctx context.Context, a dc.Actor, id string, plan planFunc) (*Result, error) {
	req := &writeRequest{actor: a, id: id, plan: plan, done: make(chan struct{})}
	return m.enqueue(ctx, req)
}

// enqueue queues a write request and waits for its answer.
func (m *Mechanism) enqueue(ctx context.Context, req *writeRequest) (*Result, error) {
	m.queueMu.Lock()
	m.queue = append(m.queue, req)
	leader := !m.writing
	m.writing = true
	m.queueMu.Unlock()

	if leader {
		m.drain(context.WithoutCancel(ctx), req)
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
func (m *Mechanism) drain(ctx context.Context, mine *writeRequest) {
	for {
		m.queueMu.Lock()
		batch := m.queue
		m.queue = nil
		if len(batch) == 0 {
			m.writing = false
			m.queueMu.Unlock()
			return
		}
		m.queueMu.Unlock()
		m.mu.Lock()
		m.runBatch(ctx, batch)
		m.mu.Unlock()
		if mine != nil {
			m.queueMu.Lock()
			if len(m.queue) == 0 {
				m.writing = false
				m.queueMu.Unlock()
				return
			}
			m.queueMu.Unlock()
			go m.drain(ctx, nil)
			return
		}
	}
}

// runBatch runs queued writes in one transaction. It is called with m.mu
// held.
func (m *Mechanism) runBatch(ctx context.Context, batch []*writeRequest) {
	began := time.Now()
	defer func() {
		m.stats.Batches.Add(1)
		m.stats.BatchedWrites.Add(int64(len(batch)))
		m.stats.BatchNanos.Add(int64(time.Since(began)))
	}()
	m.catchUpOutside(ctx)
	revBefore := m.rev
	attempts := 0
	var b batchState
	attached := false
	for _, req := range batch {
		attached = attached || req.att != nil
	}
	err := m.store.Update(ctx, func(tx dc.Tx) error {
		if attached {
			m.companion.BeginAttempt()
		}
		if attempts++; attempts > 1 || m.replica.dirty.Load() {
			// The store runs fn again after a failed attempt, or an
			// earlier batch failed and could not reload: start again
			// from the store. (A batch's own changes reach the index
			// only once it commits, but a failed attempt's catch-up
			// moved rev.)
			if err := m.reload(ctx, tx); err != nil {
				return err
			}
		}
		if err := m.catchUp(ctx, tx); err != nil {
			return err
		}
		b.index.Reset()
		var err error
		if b.settings, err = tx.Settings(ctx); err != nil {
			return err
		}
		if mm := minimaOf(b.settings); m.minima.Load() == nil || *m.minima.Load() != mm {
			m.minima.Store(&mm)
		}
		if b.parties, err = tx.Parties(ctx); err != nil {
			return err
		}
		for _, req := range batch {
			req.res, req.err, req.ch = nil, nil, nil
			if err := m.runOne(ctx, tx, &b, req); err != nil {
				return err // a store failure: the whole batch fails
			}
		}
		return nil
	})
	if err != nil {
		// Nothing of the batch was kept, and its changes never reached
		// the index, but rev may hold some of it: rev must not stay
		// ahead of the store, or the next catch-up would skip other
		// processes' commits of those seqs.
		m.rev = revBefore
		if rerr := m.store.View(ctx, func(tx dc.Tx) error { return m.reload(ctx, tx) }); rerr != nil {
			m.log.Error("reload index after a failed write; the next write reloads first", slog.Any("error", rerr))
			m.replica.dirty.Store(true)
		} else {
			m.replica.dirty.Store(false)
		}
	}
	if attached {
		m.companion.EndBatch(err == nil)
	}
	if err == nil {
		m.index.Load().Apply(&b.index)
		m.replica.dirty.Store(false)
		m.replica.seen.Store(m.rev)
		m.notify()
	}
	for _, req := range batch {
		switch {
		case err != nil && req.err == nil:
			req.res, req.err = nil, err
		case req.ch != nil:
			m.stats.addOpenConflicts(req.delta)
		}
		close(req.done)
	}
}

// runOne runs one request inside the batch transaction. Refusals by the
// rules land in req.err and write nothing; the returned error is a store
// failure that aborts the batch.
func (m *Mechanism) runOne(ctx context.Context, tx dc.Tx, b *batchState, req *writeRequest) error {
	if req.att != nil {
		return m.runAttached(ctx, tx, b, req)
	}
	return m.runPlanned(ctx, tx, b, req)
}

// runPlanned runs the change to an operation of one request; see runOne.
func (m *Mechanism) runPlanned(ctx context.Context, tx dc.Tx, b *batchState, req *writeRequest) error {
	cur, err := tx.Operation(ctx, req.id)
	if dc.ErrorCode(err) == dc.ENotFound {
		cur = nil
	} else if err != nil {
		return err
	}
	ch, err := req.plan(tx, cur)
	if err != nil {
		return m.refuse(req, err)
	}
	if ch == nil {
		req.res = &Result{Operation: cur}
		req.res.Conflicts, err = openConflicts(ctx, tx, req.id)
		return err
	}
	res, lastSeq, delta, err := m.apply(ctx, tx, b, req.actor, ch)
	if err != nil {
		return m.refuse(req, err)
	}
	req.res, req.ch, req.lastSeq, req.delta = res, ch, lastSeq, delta
	if ch.op.State.Live() {
		b.index.Insert(ch.op.ID, ch.op.Party, ch.vols)
	} else {
		b.index.Remove(ch.op.ID)
	}
	m.rev = max(m.rev, lastSeq)
	return nil
}

// refuse records a refusal by the rules in req, or passes a store error on.
func (m *Mechanism) refuse(req *writeRequest, err error) error {
	var e *dc.Error
	if errors.As(err, &e) && e.Code != dc.EInternal {
		req.err = err
		return nil
	}
	return err
}

// openConflicts returns the open conflicts of an operation.
func openConflicts(ctx context.Context, tx dc.Tx, id string) ([]*dc.Conflict, error) {
	all, err := tx.ConflictsOf(ctx, id)
	if err != nil {
		return nil, err
	}
	open := []*dc.Conflict{}
	for _, c := range all {
		if c.Status == dc.ConflictOpen {
			open = append(open, c)
		}
	}
	return open, nil
}

// apply stores a planned change with its conflicts and events. It returns
// the result, the last event seq it wrote and the change in the number of
// open conflicts.
func (m *Mechanism) apply(ctx context.Context, tx dc.Tx, b *batchState, a dc.Actor, ch *change) (*Result, int64, int64, error) {
	now := m.Now()
	op := ch.op
	settings := b.settings
	var existing []*dc.Conflict
	if ch.prev != nil { // a new operation has no conflicts yet
		var err error
		if existing, err = tx.ConflictsOf(ctx, op.ID); err != nil {
			return nil, 0, 0, err
		}
	}
	touched, delta := m.updateConflicts(ch, existing, b, now)

	// Every conflict of the operation, as it will be.
	byID := map[string]*dc.Conflict{}
	for _, c := range existing {
		byID[c.ID] = c
	}
	for _, c := range touched {
		byID[c.ID] = c
	}
	var open []*dc.Conflict
	for _, c := range byID {
		if c.Status == dc.ConflictOpen {
			open = append(open, c)
		}
	}
	sort.Slice(open, func(i, j int) bool { return open[i].ID < open[j].ID })
	if open == nil {
		open = []*dc.Conflict{}
	}
	becomesActive := op.State == dc.StateActive && (ch.prev == nil || ch.prev.State != dc.StateActive)
	if becomesActive && len(open) > 0 && !ch.forceActive {
		return nil, 0, 0, &dc.Error{Code: dc.EConflictUnresolved, Conflicts: open,
			Message: "the operation has open conflicts; it cannot become active until they are resolved or waived"}
	}

	events := m.operationEvents(ch, a, now, settings)
	for _, c := range touched {
		typ := dc.EventConflictOpened
		if c.Status == dc.ConflictResolved {
			typ = dc.EventConflictResolved
		}
		events = append(events, conflictEvent(typ, c, a, now))
	}
	var last int64
	for i, ev := range events {
		if err := m.appendEvent(ctx, tx, ev.event, ev.data); err != nil {
			return nil, 0, 0, writeFailed(err)
		}
		if i == 0 {
			op.Rev = ev.event.Seq
		}
		last = ev.event.Seq
	}
	if err := putOperation(ctx, tx, ch); err != nil {
		return nil, 0, 0, writeFailed(err)
	}
	for _, c := range touched {
		if err := tx.PutConflict(ctx, c); err != nil {
			return nil, 0, 0, writeFailed(err)
		}
	}
	if err := m.oweForChange(ctx, tx, b, a, ch, touched, now); err != nil {
		return nil, 0, 0, writeFailed(err)
	}
	return &Result{Operation: op, Conflicts: open, Created: ch.prev == nil}, last, delta, nil
}

// writeFailed makes an error met while writing a change fail the whole
// batch. Once a change has begun to write, nothing may be refused by the
// rules: the batch would commit half a change (an event without its log
// hashes, an operation without its duties).
func writeFailed(err error) error {
	var e *dc.Error
	if errors.As(err, &e) && e.Code != dc.EInternal {
		return fmt.Errorf("writing a change: %s", err.Error())
	}
	return err
}

// putOperation stores the operation of a change, with its compact
// geometry if it is live and the store keeps one.
func putOperation(ctx context.Context, tx dc.Tx, ch *change) error {
	if gtx, ok := tx.(dc.GeometryTx); ok && ch.geom != nil && ch.op.State.Live() {
		return gtx.PutOperationGeometry(ctx, ch.op, ch.geom)
	}
	return tx.PutOperation(ctx, ch.op)
}

// oweForChange records who must now acknowledge what: every other party
// the new version of a live operation, each party of a conflict that
// opened; conflicts that resolved and operations that ended or were
// cancelled need no answer any more. (A short-notice declaration is
// flagged to every party's heads by its notice.short event; its duties
// escalate on the same timer as any other.)
func (m *Mechanism) oweForChange(ctx context.Context, tx dc.Tx, b *batchState, a dc.Actor, ch *change, touched []*dc.Conflict, now time.Time) error {
	st := b.settings
	var err error
	switch {
	case !ch.op.State.Live(): // an ended or cancelled operation needs no more answers
		err = m.dischargeOperation(ctx, tx, a, ch.op, b.parties, now)
	case ch.sharedUnchanged():
		// Nothing new for the other parties to acknowledge: what they
		// owe, they owe as before, and a receipt for the new version
		// answers it.
	case !m.givesReceipts(ch.op.Party):
		// The operations of a party without receipts (SetNoReceipts)
		// are owed none: the others see them on the stream and in
		// their conflicts.
	case ch.prev == nil:
		err = oweGroup(ctx, tx, ch.op, m.receipting(b.parties), now, st)
	default:
		err = m.oweVersion(ctx, tx, ch.op, m.receipting(b.parties), now, st)
	}
	if err != nil {
		return err
	}
	for _, c := range touched {
		s := dc.Subject{Kind: dc.SubjectConflict, ID: c.ID}
		for _, p := range c.Parties {
			if !m.givesReceipts(p) {
				continue
			}
			var err error
			if c.Status == dc.ConflictOpen {
				err = m.owe(ctx, tx, s, 0, p, now, st, ch.created[c])
			} else {
				err = m.discharge(ctx, tx, a, s, 1<<30, p, now)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// updateConflicts works out which conflicts of the operation open, reopen
// or resolve. It returns the changed conflicts and the change in the number
// of open ones.
func (m *Mechanism) updateConflicts(ch *change, existing []*dc.Conflict, b *batchState, now time.Time) ([]*dc.Conflict, int64) {
	op := ch.op
	var touched []*dc.Conflict
	var delta int64
	resolve := func(c *dc.Conflict) {
		if c.Status == dc.ConflictOpen {
			delta--
		}
		c.Status, c.ClosedAt, c.UpdatedAt = dc.ConflictResolved, &now, now
		touched = append(touched, c)
	}
	switch {
	case !op.State.Live():
		for _, c := range existing {
			if c.Status == dc.ConflictOpen {
				resolve(copyConflict(c))
			}
		}
	case ch.volumesChanged:
		hits := m.conflictHits(ch, b, op.Party)
		byOther := map[string]*dc.Conflict{}
		for _, c := range existing {
			byOther[c.Other(op.ID)] = c
		}
		seen := map[string]bool{}
		for _, h := range hits {
			seen[h.ID] = true
			c := byOther[h.ID]
			if c == nil {
				c = newConflict(op.ID, op.Party, h.ID, h.Group, now)
				if ch.created == nil {
					ch.created = map[*dc.Conflict]bool{}
				}
				ch.created[c] = true
			} else {
				c = copyConflict(c)
				if c.Status == dc.ConflictResolved {
					c.DetectedAt = now
				}
			}
			if c.Status != dc.ConflictOpen {
				delta++
			}
			c.Status, c.ClosedAt, c.UpdatedAt, c.Separation = dc.ConflictOpen, nil, now, h.Separation
			for p := range c.Acknowledged {
				c.Acknowledged[p] = nil
			}
			for p := range c.Waived {
				c.Waived[p] = nil
			}
			touched = append(touched, c)
		}
		for _, c := range existing {
			if !seen[c.Other(op.ID)] && c.Status != dc.ConflictResolved {
				resolve(copyConflict(c))
			}
		}
	}
	return touched, delta
}

// minimaOf returns the separation minima of the settings.
func minimaOf(s dc.Settings) geo.Minima {
	return geo.Minima{HorizontalM: s.HorizontalM, VerticalM: s.VerticalM, TimeS: s.TimeS}
}

// aheadCheck is the conflict check of a declaration's volumes, searched
// in the index before the declaration reaches the writer: the search is
// most of a check's time, and the single writer is what limits how many
// declarations a second commit, while the requests waiting for it run on
// the other cores.
type aheadCheck struct {
	ix     *geo.Index
	minima geo.Minima
	party  string
	hits   []geo.Hit
	gen    uint64
}

// searchAhead searches the conflicts of vols, declared by party, with the
// minima of the last batch; nil before the first batch.
func (m *Mechanism) searchAhead(vols []geo.Volume, party string) *aheadCheck {
	mm := m.minima.Load()
	if mm == nil {
		return nil
	}
	ix := m.index.Load()
	hits, gen := ix.ConflictsAt(vols, *mm, party)
	return &aheadCheck{ix: ix, minima: *mm, party: party, hits: hits, gen: gen}
}

// conflictHits returns the entries of the index, with the batch's changes
// made, that conflict under the batch's minima with the change's volumes,
// from another party than party. A check searched ahead is brought up to
// date with what changed in the index since (exactly what a search now
// would answer); if the index was replaced, the minima changed or too much
// changed, it searches.
func (m *Mechanism) conflictHits(ch *change, b *batchState, party string) []geo.Hit {
	minima := minimaOf(b.settings)
	ix := m.index.Load()
	var hits []geo.Hit
	ok := false
	if a := ch.ahead; a != nil && a.ix == ix && a.minima == minima && a.party == party {
		hits, ok = ix.Since(a.hits, a.gen, ch.vols, minima, party)
	}
	if ok {
		m.stats.ChecksAhead.Add(1)
	} else {
		m.stats.ChecksInBatch.Add(1)
		hits = ix.Conflicts(ch.vols, minima, party)
	}
	return b.index.Amend(hits, ch.vols, minima, party)
}

// newID returns the ID of a new conflict or message: a version 7 UUID,
// which grows with time, so that the indexes of those IDs (and of the
// duties about them) take new entries at their end rather than in a page
// anywhere: a page less to rewrite per index and transaction.
func newID() string { return uuid.Must(uuid.NewV7()).String() }

// newConflict returns a new conflict between two operations, with the pair
// in a fixed order (by operation ID).
func newConflict(op1, party1, op2, party2 string, now time.Time) *dc.Conflict {
	if op2 < op1 {
		op1, op2, party1, party2 = op2, op1, party2, party1
	}
	return &dc.Conflict{
		ID:           newID(),
		Operations:   [2]string{op1, op2},
		Parties:      [2]string{party1, party2},
		DetectedAt:   now,
		Acknowledged: map[string]*time.Time{party1: nil, party2: nil},
		Waived:       map[string]*time.Time{party1: nil, party2: nil},
	}
}

// copyConflict returns a deep copy, so that a rejected transaction leaves
// nothing changed in memory.
func copyConflict(c *dc.Conflict) *dc.Conflict {
	n := *c
	n.Acknowledged = map[string]*time.Time{}
	for k, v := range c.Acknowledged {
		n.Acknowledged[k] = v
	}
	n.Waived = map[string]*time.Time{}
	for k, v := range c.Waived {
		n.Waived[k] = v
	}
	return &n
}
