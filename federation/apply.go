package federation

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/record"
	jsonv2 "github.com/go-json-experiment/json"
	jsonv1 "github.com/go-json-experiment/json/v1"
)

// entryBody is what the applier reads of an event's body.
type entryBody struct {
	Operation   *dc.Operation       `json:"operation"`
	Conflict    *dc.Conflict        `json:"conflict"`
	Signed      string              `json:"signed"`
	Receipt     *mechanism.Receipt  `json:"receipt"`
	NodeReceipt *record.NodeReceipt `json:"node_receipt"`
	// NodeReceipts is the body of operations.received.
	NodeReceipts *record.NodeReceipts  `json:"node_receipts"`
	Replicated   *mechanism.PeerOrigin `json:"replicated"`
	Settings     *dc.Settings          `json:"settings"`
	Message      *dc.Message           `json:"message"`
}

// decodeBody reads an entry's body as encoding/json would, with
// go-json-experiment/json and the options of encoding/json's behaviour,
// in one pass where encoding/json takes two: a node reads the body of
// every entry of its peers' logs it applies (FuzzDecodeBody holds it to
// encoding/json's reading).
func decodeBody(data []byte, b *entryBody) error {
	return jsonv2.Unmarshal(data, b, bodyOptions)
}

// bodyOptions are encoding/json's behaviour, and its reading of a time:
// encoding/json hands time.Time.UnmarshalJSON the string as written,
// which refuses one with a JSON escape in it, where go-json-experiment/json
// would unescape it first and read it.
var bodyOptions = jsonv2.JoinOptions(jsonv1.DefaultOptionsV1(),
	jsonv2.WithUnmarshalers(jsonv2.UnmarshalFunc(func(data []byte, t *time.Time) error { return t.UnmarshalJSON(data) })))

// applyStored applies, in log order, the kept entries of a peer's log
// that are not applied yet. Consecutive versions of operations are
// applied together (one transaction of the writer, mostly), and so are
// consecutive node receipts and consecutive entries that change nothing
// here, so that a catch-up of thousands of entries takes a few commits a
// page rather than one an entry. The entries the pull parsed come from
// parsed; the others are read again.
func (n *Node) applyStored(ctx context.Context, key string, parsed *parsedEntries) error {
	for {
		var p *dc.Peer
		var entries []dc.PeerEntry
		err := n.store.View(ctx, func(tx dc.Tx) error {
			ftx, peers, err := storedPeers(ctx, tx)
			if err != nil {
				return err
			}
			p, entries = nil, nil
			for _, q := range peers {
				if q.Key == key && !q.Removed {
					p = q
				}
			}
			if p == nil {
				return fmt.Errorf("peer %s was removed", keyName(key))
			}
			if p.Applied >= p.Verified {
				return nil
			}
			entries, err = ftx.PeerEntries(ctx, key, p.Applied, pageLimit)
			return err
		})
		if err != nil {
			return err
		}
		parsed.dropBelow(p.Applied)
		if p.Applied >= p.Verified {
			return nil
		}
		if len(entries) == 0 || entries[0].Index != p.Applied {
			return fmt.Errorf("peer %s: entry %d is not kept", keyName(key), p.Applied)
		}
		steps := make([]step, 0, len(entries))
		for _, e := range entries {
			if e.Index >= p.Verified {
				break
			}
			st, ae := n.plan(ctx, p, e, parsed.take(e.Index, e.LeafHash))
			if ae != nil {
				n.alert(ctx, p.Key, ae.kind, ae.msg, ae.evidence)
			}
			steps = append(steps, st)
		}
		n.checkReceipts(ctx, p.Key, steps)
		var g group
		last := int64(-1) // the end of trailing entries that change nothing, to pass
		for _, st := range steps {
			if st.kind == stepSkip {
				// Passed by the next entry's mark, or at the end.
				last = st.index + 1
				continue
			}
			if len(g.steps) > 0 && st.kind != g.steps[0].kind {
				if ok, err := n.flush(ctx, key, &g); err != nil || !ok {
					if err != nil {
						return err
					}
					break // a refusal: read the cursor again
				}
			}
			g.steps = append(g.steps, st)
			last = -1
		}
		// Trailing entries that change nothing are passed by the last
		// step's own transaction when it can carry the move, else by one
		// of their own.
		folded := last >= 0 && len(g.steps) > 0 && passTo(ctx, key, &g.steps[len(g.steps)-1], last)
		ok, err := n.flush(ctx, key, &g)
		if err != nil {
			return err
		}
		if last >= 0 && !(folded && ok) {
			if err := n.advance(ctx, key, last); err != nil {
				return err
			}
		}
	}
}

// passTo makes a step's mark also move the cursor on to index to, past
// the entries after it that change nothing here, and reports whether it
// could (the steps that carry their mark to the mechanism).
func passTo(ctx context.Context, key string, st *step, to int64) bool {
	var m *func(dc.Tx) error
	switch st.kind {
	case stepOperation:
		m = &st.op.Mark
	case stepReceipt:
		m = &st.receipt.Mark
	default:
		return false
	}
	own := *m
	*m = func(tx dc.Tx) error {
		if err := own(tx); err != nil {
			return err
		}
		ftx, err := federationTx(tx)
		if err != nil {
			return err
		}
		_, err = ftx.MarkApplied(ctx, key, to-1)
		return err
	}
	return true
}

// stepKind is what applying one entry takes.
type stepKind int

const (
	stepSkip      stepKind = iota // changes nothing here: passed by the next mark
	stepOperation                 // a version of an operation
	stepReceipt                   // a node receipt of versions of this node's operations
	stepOther                     // anything else, applied on its own
)

// step is how one entry of a peer's log is applied.
type step struct {
	kind    stepKind
	index   int64
	event   string
	data    []byte
	op      mechanism.PeerOperation
	receipt mechanism.KeptReceipt
	apply   func() error // stepOther
}

// group is consecutive steps of one kind, applied together.
type group struct{ steps []step }

// flush applies a group of steps and empties it. It reports false when
// the mechanism refused an entry (each one is alerted and passed; the
// caller reads the cursor again); an error is a failure of this node.
func (n *Node) flush(ctx context.Context, key string, g *group) (bool, error) {
	steps := g.steps
	g.steps = nil
	if len(steps) == 0 {
		return true, nil
	}
	var errs []error
	switch steps[0].kind {
	case stepOperation:
		ops := make([]mechanism.PeerOperation, len(steps))
		for i, st := range steps {
			ops[i] = st.op
		}
		errs = n.mech.Federation().ApplyPeerOperations(ctx, ops)
	case stepReceipt:
		rs := make([]mechanism.KeptReceipt, len(steps))
		for i, st := range steps {
			rs[i] = st.receipt
		}
		err := n.mech.Federation().KeepNodeReceipts(ctx, rs)
		errs = make([]error, len(steps))
		errs[0] = err
	default:
		errs = make([]error, len(steps))
		for i, st := range steps {
			if errs[i] = st.apply(); errs[i] != nil {
				break
			}
		}
	}
	ok := true
	for i, err := range errs {
		switch code := dc.ErrorCode(err); code {
		case "", dc.EExists: // applied, or applied before
		case dc.EInternal:
			return false, fmt.Errorf("apply entry %d of peer %s: %w", steps[i].index, keyName(key), err)
		default:
			// Every refusal of the group is alerted: an entry applied
			// after one in the same group moved the cursor past it.
			ok = false
			var c *mechanism.IDCollision
			if errors.As(err, &c) {
				if err := n.idCollision(ctx, key, steps[i], c); err != nil {
					return false, err
				}
				continue
			}
			n.alert(ctx, key, "rejected", fmt.Sprintf("entry %d (%s) was refused: %s", steps[i].index, steps[i].event, dc.ErrorMessage(err)), string(steps[i].data))
			if err := n.advance(ctx, key, steps[i].index+1); err != nil {
				return false, err
			}
		}
	}
	return ok, nil
}

// mark returns the function that moves the peer's cursor past entry
// index, in the transaction that applies it, and so past the entries
// before it that change nothing here: EExists if it was applied before.
func mark(ctx context.Context, key string, index int64) func(dc.Tx) error {
	return func(tx dc.Tx) error {
		ftx, err := federationTx(tx)
		if err != nil {
			return err
		}
		if ok, err := ftx.MarkApplied(ctx, key, index); err != nil {
			return err
		} else if !ok {
			return dc.Errorf(dc.EExists, "entry %d of the peer's log was applied before", index)
		}
		return nil
	}
}

// advance moves the cursor to to, past entries that change nothing here
// (or that were refused).
func (n *Node) advance(ctx context.Context, key string, to int64) error {
	return n.store.Update(ctx, func(tx dc.Tx) error {
		return updatePeer(ctx, tx, key, func(p *dc.Peer) error {
			p.Applied = max(p.Applied, to)
			return nil
		})
	})
}

// hotlineTypes are the event types of the hotline.
var hotlineTypes = map[string]bool{dc.EventHotlineMessage: true, dc.EventLineCheck: true, dc.EventHotlineAcked: true}

// opTypes are the event types that carry an operation's new version.
var opTypes = map[string]bool{
	dc.EventOperationDeclared: true, dc.EventOperationUpdated: true, dc.EventOperationActivated: true,
	dc.EventOperationEnded: true, dc.EventOperationCancelled: true,
}

// plan decides how one entry of a peer's log is applied here: a skip for
// an entry that changes nothing (withheld, a copy of another node's
// entry, a kind this node does not apply, or wrong, with the alert the
// caller raises for it). e is the entry as the pull parsed it, or nil to
// parse it here. A node receipt's step is checked against this node's
// log by checkReceipts. plan itself changes nothing, so that keep can
// plan a page inside its transaction (applyInKeep).
func (n *Node) plan(ctx context.Context, p *dc.Peer, pe dc.PeerEntry, e *dc.Event) (step, *alertError) {
	skip := step{kind: stepSkip, index: pe.Index}
	if pe.Data == nil {
		return skip, nil
	}
	if e == nil {
		var err error
		if e, err = record.DecodeEntry(pe.Data); err != nil { // checked by ParseEntry when kept
			return skip, nil
		}
	}
	var b entryBody
	if len(e.Data) > 0 {
		if err := decodeBody(e.Data, &b); err != nil {
			return skip, &alertError{kind: "malformed", msg: fmt.Sprintf("entry %d (%s): body does not read: %v", pe.Index, e.Type, err), evidence: string(pe.Data)}
		}
	}
	if b.Replicated != nil {
		return skip, nil // a copy of an entry of another node's log: that node is where it is pulled from
	}
	applies := opTypes[e.Type] || e.Type == dc.EventConflictAcked || e.Type == dc.EventConflictWaived || e.Type == dc.EventOperationReceipt || hotlineTypes[e.Type]
	if applies && !p.Hosts(e.Actor.Party) {
		return skip, &alertError{kind: "forged", msg: fmt.Sprintf("entry %d is a %s by party %q, which this peer does not host", pe.Index, e.Type, e.Actor.Party), evidence: string(pe.Data)}
	}
	origin := mechanism.PeerOrigin{Node: p.Key, Index: pe.Index, LeafHash: base64.StdEncoding.EncodeToString(pe.LeafHash[:])}
	m := mark(ctx, p.Key, pe.Index)
	st := step{kind: stepOther, index: pe.Index, event: e.Type, data: pe.Data}
	switch {
	case opTypes[e.Type] && b.Operation != nil:
		st.kind, st.op = stepOperation, mechanism.PeerOperation{Origin: origin, Actor: e.Actor, Operation: b.Operation, Mark: m}
	case (e.Type == dc.EventConflictAcked || e.Type == dc.EventConflictWaived) && b.Conflict != nil:
		st.apply = func() error {
			return n.mech.Federation().ApplyPeerConflict(ctx, origin, e.Actor, e.Type, b.Conflict.ID, e.Time, b.Signed, m)
		}
	case e.Type == dc.EventOperationReceipt && b.Receipt != nil:
		st.apply = func() error { return n.mech.Federation().ApplyPeerReceipt(ctx, origin, e.Actor, b.Receipt, e.Time, m) }
	case hotlineTypes[e.Type] && b.Message != nil:
		st.apply = func() error {
			return n.mech.Federation().ApplyPeerMessage(ctx, origin, e.Actor, e.Type, b.Message, e.Time, m)
		}
	case e.Type == dc.EventSettingsChanged && b.Settings != nil && e.Actor.Party == "":
		if err := b.Settings.Validate(); err != nil {
			// Settings no admin could set: the agreed minima and
			// notice are made of the peer's settings, so they must be
			// within what this node's own could be.
			return skip, &alertError{kind: "rejected", msg: fmt.Sprintf("entry %d (%s) was refused: %s", pe.Index, e.Type, dc.ErrorMessage(err)), evidence: string(pe.Data)}
		}
		st.apply = func() error { return n.keepSettings(ctx, p.Key, pe.Index, *b.Settings) }
	case e.Type == dc.EventOperationReceived && b.NodeReceipt != nil:
		return n.planReceipt(p, pe, e, b.NodeReceipt, origin, m)
	case e.Type == dc.EventOperationsReceived && b.NodeReceipts != nil:
		return n.planReceipts(p, pe, e, b.NodeReceipts, origin, m)
	default:
		return skip, nil
	}
	return st, nil
}

// keepSettings records a peer's settings as its log changed them, tells
// the mechanism (which decides the pairs of that peer's parties with the
// agreed values, the stricter of each) before the entries after it are
// applied, and says in the log when they differ from this node's in what
// the parties must agree on (the status shows it as an alert until they
// match).
func (n *Node) keepSettings(ctx context.Context, key string, index int64, st dc.Settings) error {
	err := n.store.Update(ctx, func(tx dc.Tx) error {
		if err := mark(ctx, key, index)(tx); err != nil {
			return err
		}
		return updatePeer(ctx, tx, key, func(p *dc.Peer) error { p.Settings = &st; return nil })
	})
	if err != nil {
		return err
	}
	if _, err := n.Refresh(ctx); err != nil {
		return err
	}
	own, err := n.mech.Settings().Get(ctx)
	if err != nil {
		return err
	}
	if diff := dc.AgreedDifferences(own, st); len(diff) > 0 {
		n.log.Warn("federation alert", slog.String("peer", keyName(key)), slog.String("kind", "settings"),
			slog.String("message", "the peer's settings differ: "+strings.Join(diff, "; ")))
	}
	return nil
}

// namesItsParties reports whether parties names exactly the parties p
// hosts, each once, in any order: what a node names as the receivers of
// its receipts (its own parties). A receipt naming fewer, or one twice,
// would be shown in this node's evidence with parties other than those
// its cosignatures and the peer's descriptor name, and fail verify.
func namesItsParties(p *dc.Peer, parties []string) bool {
	if len(parties) != len(p.Parties) {
		return false
	}
	seen := make(map[string]bool, len(parties))
	for _, party := range parties {
		if seen[party] || !p.Hosts(party) {
			return false
		}
		seen[party] = true
	}
	return true
}
