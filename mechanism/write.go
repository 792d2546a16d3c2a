package mechanism

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/geo"
	"github.com/deconflict/deconflict/record"
	"github.com/google/uuid"
	"golang.org/x/mod/sumdb/tlog"
)

// What one write to an operation does, inside a batch of the writer
// (writer.go): read the operation, plan the change (operation.go), diff
// its conflicts, refuse an activation with open ones, and write the
// events, the operation, its conflicts and the duties. Nothing here knows
// about queues or batches beyond the batch's settings, parties and index
// changes (batchState).

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
	// peer names the peer's log entry of a replicated change (see
	// ApplyPeerOperation); nil for a change authored here.
	peer *PeerOrigin
	// logged is, on a node with peers, the new version of an operation
	// of this node's as logged, for the writer to remember once the
	// batch committed (federation_logged.go); nil otherwise.
	logged *loggedVersion
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

// runOne applies the rules to one request inside a batch's transaction
// (the writer's run): a request with an attachment runs it around its
// change (runAttached, attach.go), any other just its change
// (runPlanned). Refusals by the rules land in req.err and write nothing;
// the returned error is a store failure that aborts the batch.
func (m *Mechanism) runOne(ctx context.Context, tx dc.Tx, b *batchState, req *writeRequest) error {
	if req.att != nil {
		return m.runAttached(ctx, tx, b, req)
	}
	return m.runPlanned(ctx, tx, b, req)
}

// runPlanned runs the change to the operation of one request: it reads
// the operation, plans the change (the request's plan) and applies it
// (apply), setting req's res, ch, lastSeq and delta; see runOne.
func (m *Mechanism) runPlanned(ctx context.Context, tx dc.Tx, b *batchState, req *writeRequest) error {
	cur, err := tx.Operation(ctx, req.id)
	if dc.ErrorCode(err) == dc.ENotFound {
		cur = nil
	} else if err != nil {
		return err
	}
	ch, err := req.plan(tx, cur)
	if err != nil {
		return refuse(req, err)
	}
	if ch == nil {
		req.res = &Result{Operation: cur}
		req.res.Conflicts, err = openConflicts(ctx, tx, req.id)
		return err
	}
	res, lastSeq, delta, err := m.apply(ctx, tx, b, req.actor, ch)
	if err != nil {
		return refuse(req, err)
	}
	req.res, req.ch, req.lastSeq, req.delta = res, ch, lastSeq, delta
	return nil
}

// refuse records a refusal by the rules in req, or passes a store error on.
func refuse(req *writeRequest, err error) error {
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
	var hits []geo.Hit
	if op.State.Live() && ch.volumesChanged {
		hits = m.writer.conflictHits(ch, b, op.Party)
	}
	touched, delta := updateConflicts(ch, existing, hits, now)
	late, err := m.markFoundLate(ctx, tx, ch, existing, touched, settings, now)
	if err != nil {
		return nil, 0, 0, err
	}
	open := openAfter(existing, touched)
	becomesActive := op.State == dc.StateActive && (ch.prev == nil || ch.prev.State != dc.StateActive)
	if becomesActive && len(open) > 0 && !ch.forceActive && ch.peer == nil {
		return nil, 0, 0, &dc.Error{Code: dc.EConflictUnresolved, Conflicts: open,
			Message: "the operation has open conflicts; it cannot become active until they are resolved or waived"}
	}

	// An active operation whose volumes change is checked like one that
	// becomes active: otherwise one activated away from a stale peer's
	// airspace could then be moved into it without an override.
	movesActive := op.State == dc.StateActive && !becomesActive && ch.volumesChanged
	if (becomesActive || movesActive) && ch.peer == nil {
		if err := m.checkBlindSpots(ctx, tx, op, ch.vols, b); err != nil {
			return nil, 0, 0, err
		}
	}
	events := operationEvents(ch, a, now, b.agreed.notice(settings))
	for _, c := range touched {
		typ := dc.EventConflictOpened
		if c.Status == dc.ConflictResolved {
			typ = dc.EventConflictResolved
		}
		events = append(events, conflictEvent(typ, c, a, now))
	}
	if ch.peer != nil {
		var err error
		if events, err = peerEvents(ch, events); err != nil {
			return nil, 0, 0, writeFailed(err)
		}
	}
	var last int64
	federated := m.federated()
	for i, ev := range events {
		logged, err := m.appendLogged(ctx, tx, ev.event, ev.data)
		if err != nil {
			return nil, 0, 0, writeFailed(err)
		}
		if federated {
			b.entries = append(b.entries, logged)
		}
		if i == 0 {
			op.Rev = ev.event.Seq
		}
		last = ev.event.Seq
	}
	if ch.peer == nil && len(events) > 0 && versionEvents[events[0].event.Type] && federated {
		// Peers will send receipts naming this entry: its leaf hash was
		// just put in tx, which holds it without a read.
		leaf, err := tx.LogHashes(ctx, []int64{tlog.StoredHashIndex(0, op.Rev-1)})
		if err != nil {
			return nil, 0, 0, writeFailed(err)
		}
		ch.logged = &loggedVersion{index: op.Rev - 1, leaf: leaf[0], op: op.ID, party: op.Party, version: op.Version}
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
	if err := m.escalateFoundLate(ctx, tx, late, settings, now); err != nil {
		return nil, 0, 0, writeFailed(err)
	}
	if ch.peer != nil && (ch.prev == nil || ch.prev.Version < op.Version) {
		b.received = append(b.received, received{node: ch.peer.Node, party: op.Party, version: record.ReceivedVersion{
			Operation: op.ID, Version: op.Version, Entry: ch.peer.Index, LeafHash: ch.peer.LeafHash}})
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
		err = oweGroup(ctx, tx, ch.op, m.receipting(m.localParties(b.parties)), now, st) // duties are owed on the node of the party that owes them
	default:
		err = m.oweVersion(ctx, tx, ch.op, m.receipting(m.localParties(b.parties)), now, st) // duties are owed on the node of the party that owes them
	}
	if err != nil {
		return err
	}
	for _, c := range touched {
		s := dc.Subject{Kind: dc.SubjectConflict, ID: c.ID}
		for _, p := range c.Parties {
			if _, remote := m.Federation().RemoteParty(p); remote || !m.givesReceipts(p) {
				continue // owed, and escalated, on its own node; or never
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

// openAfter returns the open conflicts of an operation once the touched
// ones replace their versions among existing, in the order of their IDs.
func openAfter(existing, touched []*dc.Conflict) []*dc.Conflict {
	byID := map[string]*dc.Conflict{}
	for _, c := range existing {
		byID[c.ID] = c
	}
	for _, c := range touched {
		byID[c.ID] = c
	}
	open := []*dc.Conflict{}
	for _, c := range byID {
		if c.Status == dc.ConflictOpen {
			open = append(open, c)
		}
	}
	sort.Slice(open, func(i, j int) bool { return open[i].ID < open[j].ID })
	return open
}

// updateConflicts works out which conflicts of the operation open, reopen
// or resolve, given its existing conflicts and, if its volumes changed
// while it is live, the live operations they now conflict with (hits).
// It returns the changed conflicts and the change in the number of open
// ones.
func updateConflicts(ch *change, existing []*dc.Conflict, hits []geo.Hit, now time.Time) ([]*dc.Conflict, int64) {
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

// newID returns the ID of a new hotline message: a version 7 UUID, which
// grows with time, so that the indexes of those IDs (and of the duties
// about them) take new entries at their end rather than in a page
// anywhere: a page less to rewrite per index and transaction. (Conflict
// IDs are derived from their pair instead, see pairID, so that every
// federation node names a conflict alike.)
func newID() string { return uuid.Must(uuid.NewV7()).String() }

// newConflict returns a new conflict between two operations, with the pair
// in a fixed order (by operation ID).
func newConflict(op1, party1, op2, party2 string, now time.Time) *dc.Conflict {
	if op2 < op1 {
		op1, op2, party1, party2 = op2, op1, party2, party1
	}
	return &dc.Conflict{
		ID:           pairID(op1, op2),
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
