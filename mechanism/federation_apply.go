package mechanism

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/geo"
	"github.com/deconflict/deconflict/record"
)

// What a node does with what it receives from its peers: their parties'
// operations, answers to conflicts, receipts of operations, and their
// nodes' receipts of this node's operations. Every replicated
// event is marked with the peer's entry it came from (PeerOrigin).

// withOrigin returns data's JSON with "replicated": origin added, the
// body of a copy of a peer's entry.
func withOrigin(data any, o *PeerOrigin) (copyBody, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	ob, err := json.Marshal(o)
	if err != nil {
		return nil, err
	}
	b = bytes.TrimSpace(b)
	if len(b) < 2 || b[0] != '{' {
		return nil, fmt.Errorf("event body is not an object")
	}
	out := append([]byte(nil), b[:len(b)-1]...)
	if len(b) > 2 {
		out = append(out, ',')
	}
	out = append(out, `"replicated":`...)
	out = append(out, ob...)
	return copyBody(append(out, '}')), nil
}

// peerEvents marks the events of a replicated change as copies. The
// node's receipt of the version it received is not among them: the
// batch gives one receipt of all the versions it applied of each peer's
// party (appendNodeReceipts, federation_received.go).
func peerEvents(ch *change, events []pendingEvent) ([]pendingEvent, error) {
	for i := range events {
		d, err := withOrigin(events[i].data, ch.peer)
		if err != nil {
			return nil, err
		}
		events[i].data = d
	}
	return events, nil
}

// NodeReceiptEventData is the body of operation.received.
type NodeReceiptEventData struct {
	Receipt *record.NodeReceipt `json:"node_receipt"`
}

// PeerOperation is a version of an operation of a party a peer hosts, as
// the entry Origin of the peer's log gave it, by Actor. Mark runs in the
// transaction that applies it (the caller's cursor in the peer's log),
// so that the entry is applied exactly once.
type PeerOperation struct {
	Origin    PeerOrigin
	Actor     dc.Actor
	Operation *dc.Operation
	Mark      func(dc.Tx) error
}

// ApplyPeerOperation applies one version of a peer's operation (see
// ApplyPeerOperations).
func (f Federation) ApplyPeerOperation(ctx context.Context, origin PeerOrigin, a dc.Actor, op *dc.Operation, mark func(dc.Tx) error) error {
	return f.ApplyPeerOperations(ctx, []PeerOperation{{Origin: origin, Actor: a, Operation: op, Mark: mark}})[0]
}

// ApplyPeerOperations applies versions of peers' operations, in order, as
// their authors decided them: the exact engine runs over each, conflicts
// open and resolve as on the author's node, and a receipt of each new
// version goes into this node's log. A version this node already
// holds (or an older one) changes nothing. They queue together for the
// writer, so that a catch-up commits many in one transaction. It returns
// each one's error.
func (f Federation) ApplyPeerOperations(ctx context.Context, ops []PeerOperation) []error {
	m := f.m
	all, errs := m.peerWrites(ops)
	var reqs []*writeRequest
	var at []int
	for i, req := range all {
		if req != nil {
			reqs = append(reqs, req)
			at = append(at, i)
		}
	}
	if len(reqs) > 0 {
		m.writer.writeAll(ctx, reqs)
	}
	for k, req := range reqs {
		errs[at[k]] = req.err
	}
	return errs
}

// peerWrite checks a peer's operation and returns the write request
// that applies it.
func (m *Mechanism) peerWrite(po PeerOperation) (*writeRequest, error) {
	origin, a, op := po.Origin, po.Actor, po.Operation
	if op == nil {
		return nil, dc.Errorf(dc.EInvalid, "no operation")
	}
	if key, ok := m.Federation().RemoteParty(op.Party); !ok || key != origin.Node {
		return nil, dc.Errorf(dc.EForbidden, "operation %s of party %s: that party is not hosted by the node it came from", op.ID, op.Party)
	}
	if a.Party != op.Party {
		return nil, dc.Errorf(dc.EInvalid, "operation %s of party %s changed by an actor of party %s", op.ID, op.Party, a.Party)
	}
	if !dc.ValidID(op.ID) || op.Version < 1 || !op.State.Valid() {
		return nil, dc.Errorf(dc.EInvalid, "operation %q: bad id, version or state", op.ID)
	}
	vols, err := geo.ParseVolumes(op.Volumes, "volumes")
	if err != nil {
		return nil, err
	}
	var ahead *aheadCheck // the conflict search, before the write lock as a declaration's
	if op.State.Live() {
		ahead = m.writer.searchAhead(vols, op.Party)
	}
	next := *op
	next.Notes = nil
	next.Volumes = CanonicalVolumes(op.Volumes, vols)
	next.Start, next.End, _ = span(vols)
	next.CreatedAt, next.UpdatedAt = op.CreatedAt.UTC(), op.UpdatedAt.UTC()
	geom := geo.EncodeVolumes(vols)
	plan := func(tx dc.Tx, cur *dc.Operation) (*change, error) {
		if cur != nil && cur.Party != op.Party {
			n := next
			return nil, newIDCollision(&n, cur.Party)
		}
		if err := po.Mark(tx); err != nil {
			return nil, err
		}
		if cur != nil && cur.Version >= next.Version {
			return nil, nil // applied before
		}
		n := next
		return &change{op: &n, prev: cur, vols: vols, geom: geom, peer: &origin, ahead: ahead,
			volumesChanged: cur == nil || !sameVolumes(cur.Volumes, n.Volumes)}, nil
	}
	return &writeRequest{actor: a, id: op.ID, plan: plan, done: make(chan struct{})}, nil
}

// writeAll is write for several requests queued at once, in order: they
// are committed in as few batches as the writer makes of them.
func (w *writer) writeAll(ctx context.Context, reqs []*writeRequest) {
	w.queueMu.Lock()
	w.queue = append(w.queue, reqs...)
	leader := !w.writing
	w.writing = true
	w.queueMu.Unlock()
	if leader {
		w.drain(context.WithoutCancel(ctx), reqs[0])
	}
	for _, req := range reqs {
		<-req.done
	}
}

// ApplyPeerConflict applies a peer party's acknowledgement or waiver of a
// conflict (typ is conflict.acknowledged or conflict.waived), made at
// the time at on its own node. A conflict this node does not hold, or
// that the party already answered, changes nothing. mark runs in the
// same transaction.
func (f Federation) ApplyPeerConflict(ctx context.Context, origin PeerOrigin, a dc.Actor, typ, id string, at time.Time, signed string, mark func(dc.Tx) error) error {
	m := f.m
	if key, ok := f.RemoteParty(a.Party); !ok || key != origin.Node {
		return dc.Errorf(dc.EForbidden, "party %s is not hosted by the node the entry came from", a.Party)
	}
	if typ != dc.EventConflictAcked && typ != dc.EventConflictWaived {
		return dc.Errorf(dc.EInvalid, "not a conflict answer: %s", typ)
	}
	closed := false
	err := m.store.Update(ctx, func(tx dc.Tx) error {
		closed = false
		if err := mark(tx); err != nil {
			return err
		}
		c, err := tx.Conflict(ctx, id)
		if dc.ErrorCode(err) == dc.ENotFound {
			return nil // a conflict of operations this node does not hold
		} else if err != nil {
			return err
		}
		if !c.Involves(a.Party) {
			return dc.Errorf(dc.EInvalid, "party %s is not involved in conflict %s", a.Party, id)
		}
		c = copyConflict(c)
		at := at.UTC().Truncate(time.Microsecond)
		switch typ {
		case dc.EventConflictAcked:
			if c.Acknowledged[a.Party] != nil {
				return nil
			}
			c.Acknowledged[a.Party] = &at
		case dc.EventConflictWaived:
			if c.Waived[a.Party] != nil {
				return nil
			}
			c.Waived[a.Party] = &at
			if c.Acknowledged[a.Party] == nil {
				c.Acknowledged[a.Party] = &at
			}
			if c.Status == dc.ConflictOpen && c.Waived[c.Parties[0]] != nil && c.Waived[c.Parties[1]] != nil {
				now := m.Now()
				c.Status, c.ClosedAt = dc.ConflictWaived, &now
				closed = true
			}
		}
		c.UpdatedAt = m.Now()
		if err := tx.PutConflict(ctx, c); err != nil {
			return err
		}
		ev := conflictEvent(typ, c, a, c.UpdatedAt)
		data, err := withOrigin(ConflictEventData{Conflict: c, Signed: signed}, &origin)
		if err != nil {
			return err
		}
		return m.appendEvent(ctx, tx, ev.event, data)
	})
	if err == nil {
		if closed {
			m.stats.addOpenConflicts(-1)
		}
		m.notify()
	}
	return err
}

// ApplyPeerReceipt applies a peer party's acknowledgement (receipt) of a
// version of an operation of this node's: the duty it owed is discharged
// here too, and the receipt goes on this node's record.
func (f Federation) ApplyPeerReceipt(ctx context.Context, origin PeerOrigin, a dc.Actor, r *Receipt, at time.Time, mark func(dc.Tx) error) error {
	m := f.m
	if key, ok := f.RemoteParty(a.Party); !ok || key != origin.Node || r.Party != a.Party {
		return dc.Errorf(dc.EForbidden, "party %s is not hosted by the node the entry came from", a.Party)
	}
	err := m.store.Update(ctx, func(tx dc.Tx) error {
		if err := mark(tx); err != nil {
			return err
		}
		op, err := tx.Operation(ctx, r.Operation)
		if dc.ErrorCode(err) == dc.ENotFound {
			return nil
		} else if err != nil {
			return err
		}
		if _, remote := f.RemoteParty(op.Party); remote || r.Version < 1 || r.Version > op.Version {
			return nil // not ours to keep, or a version this node never had
		}
		data, err := withOrigin(map[string]*Receipt{"receipt": r}, &origin)
		if err != nil {
			return err
		}
		return m.appendEvent(ctx, tx, &dc.Event{
			Type: dc.EventOperationReceipt, Time: at.UTC().Truncate(time.Microsecond), Actor: a,
			Subject: &dc.Subject{Kind: "operation", ID: op.ID}, Audience: []string{op.Party, a.Party},
		}, data)
	})
	if err == nil {
		m.notify()
	}
	return err
}

// KeptReceipt is a peer node's receipt of this node's operations, from
// the entry Origin of the peer's log: of one version (Receipt, an
// operation.received) or of several (Receipts, an operations.received),
// one of the two. Mark, if not nil, runs in the transaction that keeps
// it.
type KeptReceipt struct {
	Origin   PeerOrigin
	Receipt  *record.NodeReceipt
	Receipts *record.NodeReceipts
	Mark     func(dc.Tx) error
}

// KeepNodeReceipt keeps one receipt (see KeepNodeReceipts).
func (f Federation) KeepNodeReceipt(ctx context.Context, origin PeerOrigin, r *record.NodeReceipt, mark func(dc.Tx) error) error {
	return f.KeepNodeReceipts(ctx, []KeptReceipt{{Origin: origin, Receipt: r, Mark: mark}})
}

// KeepNodeReceipts keeps peer nodes' receipts of this node's operations
// in this node's own log, where the operations' evidence bundles find
// them, all in one transaction: a copy of each receipt's entry. The
// caller took each from the peer's log as verified against the peer's
// signed checkpoint (a receipt that carries a signature of its own,
// checked too: record.CheckNodeReceipt), and checked with
// CheckReceivedEntries that each version it names is a version of an
// operation of this node's, of its party, as that entry is.
func (f Federation) KeepNodeReceipts(ctx context.Context, rs []KeptReceipt) error {
	m := f.m
	err := m.store.Update(ctx, func(tx dc.Tx) error {
		for _, k := range rs {
			if err := m.keepNodeReceipt(ctx, tx, k); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		m.notify()
	}
	return err
}

// KeepNodeReceiptsIn is KeepNodeReceipts in the caller's write
// transaction tx, for a caller that commits the receipts with what else
// it keeps of the peer's log; once tx has committed it calls Kept.
func (f Federation) KeepNodeReceiptsIn(ctx context.Context, tx dc.Tx, rs []KeptReceipt) error {
	for _, k := range rs {
		if err := f.m.keepNodeReceipt(ctx, tx, k); err != nil {
			return err
		}
	}
	return nil
}

// Kept tells those who wait for the log to grow (Changed) that a
// transaction of KeepNodeReceiptsIn committed.
func (f Federation) Kept() { f.m.notify() }

// keepNodeReceipt keeps one receipt in tx, as the peer's entry was: of
// the same type, about the same operation (none for a receipt of
// several), for the same parties. The operations are those of the
// receipt's party: the entries it names, checked by the caller, are
// versions of them by that party.
func (m *Mechanism) keepNodeReceipt(ctx context.Context, tx dc.Tx, k KeptReceipt) error {
	if k.Mark != nil {
		if err := k.Mark(tx); err != nil {
			return err
		}
	}
	var (
		party, typ string
		receivers  []string
		subject    *dc.Subject
		body       any
	)
	switch {
	case k.Receipt != nil:
		r := k.Receipt
		party, typ, receivers, body = r.Party, dc.EventOperationReceived, r.Receiver, NodeReceiptEventData{Receipt: r}
		subject = &dc.Subject{Kind: "operation", ID: r.Operation}
	case k.Receipts != nil:
		rs := k.Receipts
		party, typ, receivers, body = rs.Party, dc.EventOperationsReceived, rs.Receiver, NodeReceiptsEventData{Receipts: rs}
	default:
		return fmt.Errorf("keep node receipt: no receipt")
	}
	if _, remote := m.Federation().RemoteParty(party); remote {
		return nil
	}
	audience := append([]string{party}, receivers...)
	sort.Strings(audience[1:])
	data, err := withOrigin(body, &k.Origin)
	if err != nil {
		return err
	}
	return m.appendEvent(ctx, tx, &dc.Event{
		Type: typ, Time: m.Now(), Actor: dc.Actor{Role: "node"}, Subject: subject, Audience: audience,
	}, data)
}
