package mechanism

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/geo"
	"github.com/deconflict/deconflict/record"
	"github.com/google/uuid"
)

// A federation node hosts some parties and holds replicas of the others'
// operations, received from the peer nodes that host them. The rules are
// those of a single server, with these additions:
//
//   - a node authors only its own parties' operations, acknowledgements,
//     waivers and messages (EForbidden for a party a peer hosts);
//   - a peer's operation is applied as its author decided it: the node
//     runs the exact engine over it and opens the conflicts it finds, but
//     never refuses it (the author's node decided its activation);
//   - duties are owed, and escalate, only on the node of the party that
//     owes them;
//   - every version of a peer's operation received is answered by a
//     signed receipt (record.NodeReceipt) in the node's own log;
//   - conflict IDs are derived from the pair of operations (pairID), so
//     that every node holding both names the conflict alike;
//   - activating an operation while a peer is stale needs a head's
//     recorded override.

// federation is what the mechanism knows of its peers.
type federation struct {
	// remote maps each party a peer hosts to that peer's key; nil or
	// empty on a single server.
	remote atomic.Pointer[map[string]string]
	// stale, if set, returns the keys of the peers silent for longer
	// than peer_silence_s.
	stale atomic.Pointer[func(dc.Settings) []string]
}

// PeerOrigin names the entry of a peer's log a replicated change comes
// from. Events a node writes while applying it carry it as "replicated",
// so that a reader (and a third node) tells copies from authored entries.
type PeerOrigin struct {
	Node     string `json:"node"` // the peer's key
	Index    int64  `json:"index"`
	LeafHash string `json:"leaf_hash"`
}

// SetPeers tells the mechanism which parties its peers host. The
// federation node calls it at start and whenever the peers change.
func (m *Mechanism) SetPeers(peers []*dc.Peer) {
	remote := map[string]string{}
	for _, p := range peers {
		for _, party := range p.Parties {
			remote[party] = p.Key
		}
	}
	m.fed.remote.Store(&remote)
}

// SetStaleCheck installs the function that names the peers whose link is
// stale under the settings; activations check it.
func (m *Mechanism) SetStaleCheck(fn func(dc.Settings) []string) { m.fed.stale.Store(&fn) }

// RemoteParty returns the key of the peer that hosts party, if one does.
func (m *Mechanism) RemoteParty(party string) (string, bool) {
	r := m.fed.remote.Load()
	if r == nil || party == "" {
		return "", false
	}
	k, ok := (*r)[party]
	return k, ok
}

// authorHere refuses to act for a party another node hosts: that node is
// the only place where its party's changes are authored.
func (m *Mechanism) authorHere(a dc.Actor) error {
	if _, ok := m.RemoteParty(a.Party); ok {
		return dc.Errorf(dc.EForbidden, "party %s is hosted by another federation node; act for it there", a.Party)
	}
	return nil
}

// localParties returns the parties this node hosts, of ps.
func (m *Mechanism) localParties(ps []*dc.Party) []*dc.Party {
	r := m.fed.remote.Load()
	if r == nil || len(*r) == 0 {
		return ps
	}
	out := make([]*dc.Party, 0, len(ps))
	for _, p := range ps {
		if _, ok := (*r)[p.ID]; !ok {
			out = append(out, p)
		}
	}
	return out
}

// LocalParties returns the IDs of the parties this node hosts.
func (m *Mechanism) LocalParties(ctx context.Context) ([]string, error) {
	ps, err := m.Parties(ctx)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, p := range m.localParties(ps) {
		out = append(out, p.ID)
	}
	return out, nil
}

// conflictNamespace is the UUID namespace of conflict IDs.
var conflictNamespace = uuid.MustParse("6d1f6a52-3c57-4b8e-9f0e-2b1c7a9d4e10")

// pairID returns the ID of the conflict of two operations: a version 5
// UUID of the pair in ID order, the same on every node without talking.
func pairID(op1, op2 string) string {
	if op2 < op1 {
		op1, op2 = op2, op1
	}
	return uuid.NewSHA1(conflictNamespace, []byte(op1+" "+op2)).String()
}

// checkPeersReachable refuses the activation of op while a peer is stale,
// unless a head of its party recorded an override for it.
func (m *Mechanism) checkPeersReachable(ctx context.Context, tx dc.Tx, op *dc.Operation, st dc.Settings) error {
	fn := m.fed.stale.Load()
	if fn == nil {
		return nil
	}
	stale := (*fn)(st)
	if len(stale) == 0 {
		return nil
	}
	if ftx, ok := tx.(dc.FederationTx); ok {
		if _, err := ftx.Override(ctx, op.ID); err == nil {
			return nil
		} else if dc.ErrorCode(err) != dc.ENotFound {
			return err
		}
	}
	return dc.Errorf(dc.EPeerUnreachable,
		"%d peer node(s) silent for longer than peer_silence_s (%gs): the operation may conflict with what they declared since; coordinate by voice, and have a head record it with POST /v1/operations/%s/override",
		len(stale), st.PeerSilenceS, op.ID)
}

// MaxOverrideReason is the longest reason an override may give, in bytes.
const MaxOverrideReason = 2000

// OverrideActivation records that a head of the operation's party takes
// the decision to activate it while a peer is unreachable (POST
// /v1/operations/{id}/override). It goes on the record for every party.
func (m *Mechanism) OverrideActivation(ctx context.Context, a dc.Actor, id, reason string) (*dc.Override, error) {
	if !a.Is(dc.RoleHead) || a.Party == "" {
		return nil, dc.Errorf(dc.EPermission, "only a head of the operation's party may override")
	}
	if err := m.authorHere(a); err != nil {
		return nil, err
	}
	reason = strings.TrimSpace(reason)
	switch {
	case reason == "":
		return nil, dc.FieldErrorf(dc.EInvalid, "reason", "give the reason (such as \"coordinated by voice over the hotline\")")
	case len(reason) > MaxOverrideReason || !utf8.ValidString(reason):
		return nil, dc.FieldErrorf(dc.EInvalid, "reason", "the reason must be valid text of at most %d bytes", MaxOverrideReason)
	}
	var o *dc.Override
	err := m.store.Update(ctx, func(tx dc.Tx) error {
		ftx, ok := tx.(dc.FederationTx)
		if !ok {
			return dc.Errorf(dc.EInvalid, "this store keeps no federation state")
		}
		op, err := tx.Operation(ctx, id)
		if dc.ErrorCode(err) == dc.ENotFound {
			return dc.Errorf(dc.ENotFound, "no operation %s", id)
		} else if err != nil {
			return err
		}
		if op.Party != a.Party {
			return dc.Errorf(dc.EPermission, "operation %s belongs to party %s", id, op.Party)
		}
		now := m.Now()
		o = &dc.Override{Operation: id, Party: a.Party, Reason: reason, At: now}
		if err := ftx.PutOverride(ctx, o); err != nil {
			return err
		}
		return m.appendEvent(ctx, tx, &dc.Event{
			Type: dc.EventOperationOverride, Time: now, Actor: a, Subject: &dc.Subject{Kind: "operation", ID: id},
		}, map[string]*dc.Override{"override": o})
	})
	if err != nil {
		return nil, err
	}
	m.notify()
	return o, nil
}

// withOrigin returns data's JSON with "replicated": origin added.
func withOrigin(data any, o *PeerOrigin) (json.RawMessage, error) {
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
	return append(out, '}'), nil
}

// peerEvents marks the events of a replicated change as copies, and adds
// the node's signed receipt of the version it received.
func (m *Mechanism) peerEvents(ctx context.Context, tx dc.Tx, ch *change, events []pendingEvent, b *batchState, now time.Time) ([]pendingEvent, error) {
	for i := range events {
		d, err := withOrigin(events[i].data, ch.peer)
		if err != nil {
			return nil, err
		}
		events[i].data = d
	}
	if ch.prev != nil && ch.prev.Version >= ch.op.Version {
		return events, nil
	}
	keys, err := tx.Keys(ctx)
	if err != nil {
		return nil, err
	}
	active := activeKeys(keys)
	if len(active) == 0 {
		return nil, fmt.Errorf("node receipt: no signing key")
	}
	local := []string{}
	for _, p := range m.localParties(b.parties) {
		local = append(local, p.ID)
	}
	r := &record.NodeReceipt{
		Operation: ch.op.ID, Party: ch.op.Party, Version: ch.op.Version, Receiver: local,
		Key: active[0].Verifier, ReceivedAt: now.Format(time.RFC3339Nano),
		Entry: ch.peer.Index, LeafHash: ch.peer.LeafHash,
	}
	if err := record.SignNodeReceipt(r, active[0].Signer); err != nil {
		return nil, err
	}
	audience := append([]string{ch.op.Party}, local...)
	return append(events, pendingEvent{&dc.Event{
		Type: dc.EventOperationReceived, Time: now, Actor: dc.Actor{Role: "node"},
		Subject: &dc.Subject{Kind: "operation", ID: ch.op.ID}, Audience: audience,
	}, NodeReceiptEventData{Receipt: r}}), nil
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
func (m *Mechanism) ApplyPeerOperation(ctx context.Context, origin PeerOrigin, a dc.Actor, op *dc.Operation, mark func(dc.Tx) error) error {
	return m.ApplyPeerOperations(ctx, []PeerOperation{{Origin: origin, Actor: a, Operation: op, Mark: mark}})[0]
}

// ApplyPeerOperations applies versions of peers' operations, in order, as
// their authors decided them: the exact engine runs over each, conflicts
// open and resolve as on the author's node, and a signed receipt of each
// new version goes into this node's log. A version this node already
// holds (or an older one) changes nothing. They queue together for the
// writer, so that a catch-up commits many in one transaction. It returns
// each one's error.
func (m *Mechanism) ApplyPeerOperations(ctx context.Context, ops []PeerOperation) []error {
	errs := make([]error, len(ops))
	var reqs []*writeRequest
	var at []int
	for i, po := range ops {
		req, err := m.peerWrite(po)
		if err != nil {
			errs[i] = err
			continue
		}
		reqs = append(reqs, req)
		at = append(at, i)
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
	if key, ok := m.RemoteParty(op.Party); !ok || key != origin.Node {
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
	next := *op
	next.Notes = nil
	next.Volumes = canonicalVolumes(op.Volumes, vols)
	next.Start, next.End, _ = span(vols)
	next.CreatedAt, next.UpdatedAt = op.CreatedAt.UTC(), op.UpdatedAt.UTC()
	geom := geo.EncodeVolumes(vols)
	plan := func(tx dc.Tx, cur *dc.Operation) (*change, error) {
		if cur != nil && cur.Party != op.Party {
			return nil, dc.Errorf(dc.EForbidden, "operation %s belongs to party %s here", op.ID, cur.Party)
		}
		if err := po.Mark(tx); err != nil {
			return nil, err
		}
		if cur != nil && cur.Version >= next.Version {
			return nil, nil // applied before
		}
		n := next
		return &change{op: &n, prev: cur, vols: vols, geom: geom, peer: &origin,
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
func (m *Mechanism) ApplyPeerConflict(ctx context.Context, origin PeerOrigin, a dc.Actor, typ, id string, at time.Time, signed string, mark func(dc.Tx) error) error {
	if key, ok := m.RemoteParty(a.Party); !ok || key != origin.Node {
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
func (m *Mechanism) ApplyPeerReceipt(ctx context.Context, origin PeerOrigin, a dc.Actor, r *Receipt, at time.Time, mark func(dc.Tx) error) error {
	if key, ok := m.RemoteParty(a.Party); !ok || key != origin.Node || r.Party != a.Party {
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
		if _, remote := m.RemoteParty(op.Party); remote || r.Version < 1 || r.Version > op.Version {
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

// KeptReceipt is a peer node's signed receipt of one of this node's
// operations, from the entry Origin of the peer's log; Mark runs in the
// transaction that keeps it.
type KeptReceipt struct {
	Origin  PeerOrigin
	Receipt *record.NodeReceipt
	Mark    func(dc.Tx) error
}

// KeepNodeReceipt keeps one receipt (see KeepNodeReceipts).
func (m *Mechanism) KeepNodeReceipt(ctx context.Context, origin PeerOrigin, r *record.NodeReceipt, mark func(dc.Tx) error) error {
	return m.KeepNodeReceipts(ctx, []KeptReceipt{{Origin: origin, Receipt: r, Mark: mark}})
}

// KeepNodeReceipts keeps peer nodes' signed receipts of this node's
// operations in this node's own log, where the operations' evidence
// bundles find them, all in one transaction. The caller has checked the
// signatures with the peers' keys (record.CheckNodeReceipt).
func (m *Mechanism) KeepNodeReceipts(ctx context.Context, rs []KeptReceipt) error {
	err := m.store.Update(ctx, func(tx dc.Tx) error {
		for _, k := range rs {
			if err := m.keepNodeReceipt(ctx, tx, k.Origin, k.Receipt, k.Mark); err != nil {
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

// keepNodeReceipt keeps one receipt in tx.
func (m *Mechanism) keepNodeReceipt(ctx context.Context, tx dc.Tx, origin PeerOrigin, r *record.NodeReceipt, mark func(dc.Tx) error) error {
	if err := mark(tx); err != nil {
		return err
	}
	op, err := tx.Operation(ctx, r.Operation)
	if dc.ErrorCode(err) == dc.ENotFound {
		return nil
	} else if err != nil {
		return err
	}
	if _, remote := m.RemoteParty(op.Party); remote || op.Party != r.Party {
		return nil
	}
	audience := append([]string{op.Party}, r.Receiver...)
	sort.Strings(audience[1:])
	data, err := withOrigin(NodeReceiptEventData{Receipt: r}, &origin)
	if err != nil {
		return err
	}
	return m.appendEvent(ctx, tx, &dc.Event{
		Type: dc.EventOperationReceived, Time: m.Now(), Actor: dc.Actor{Role: "node"},
		Subject: &dc.Subject{Kind: "operation", ID: op.ID}, Audience: audience,
	}, data)
}

// KeepPeerAlert keeps an alert about a peer node and puts it on the
// record for this node's parties (their heads follow it in the event
// stream and webhooks), unless the latest alert about that peer says the
// same: a pull that is retried finds the same fault again.
func (m *Mechanism) KeepPeerAlert(ctx context.Context, a *dc.PeerAlert) error {
	err := m.store.Update(ctx, func(tx dc.Tx) error {
		ftx, ok := tx.(dc.FederationTx)
		if !ok {
			return fmt.Errorf("this store keeps no federation state")
		}
		last, err := ftx.PeerAlerts(ctx, a.Peer, 1)
		if err != nil {
			return err
		}
		if len(last) == 1 && last[0].Kind == a.Kind && last[0].Message == a.Message {
			return nil
		}
		if err := ftx.AddPeerAlert(ctx, a); err != nil {
			return err
		}
		ps, err := tx.Parties(ctx)
		if err != nil {
			return err
		}
		audience := []string{}
		for _, p := range m.localParties(ps) {
			audience = append(audience, p.ID)
		}
		return m.appendEvent(ctx, tx, &dc.Event{
			Type: dc.EventFederationAlert, Time: a.At.UTC().Truncate(time.Microsecond), Actor: dc.Actor{Role: "node"},
			Subject: &dc.Subject{Kind: "peer", ID: a.Peer}, Audience: audience,
		}, map[string]*dc.PeerAlert{"alert": a})
	})
	if err == nil {
		m.notify()
	}
	return err
}
