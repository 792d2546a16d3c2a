package mechanism

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	dc "github.com/deconflict/deconflict"
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
//     receipt in the node's own log, which its signed checkpoints vouch
//     for: one entry (record.NodeReceipts) for the versions of one
//     party a batch of the writer applied (federation_received.go);
//   - conflict IDs are derived from the pair of operations (pairID), so
//     that every node holding both names the conflict alike;
//   - a pair of operations of parties hosted on two nodes is decided
//     with the stricter of the two nodes' minima, and the notice is the
//     longest (agreement.go);
//   - a peer's operation whose ID another party holds here is refused
//     and alerted (federation_collision.go);
//   - activating an operation that could meet the airspace of a stale
//     peer (federation_airspace.go), or that a refused peer operation
//     would conflict with, needs a head's recorded override.

// federation is what the mechanism knows of its peers.
type federation struct {
	// remote maps each party a peer hosts to that peer's key; nil or
	// empty on a single server.
	remote atomic.Pointer[map[string]string]
	// stale, if set, returns the keys of the peers silent for longer
	// than peer_silence_s.
	stale atomic.Pointer[func(dc.Settings) []string]
	// refused are the peers' operations refused for an ID collision
	// (federation_collision.go); nil if none.
	refused atomic.Pointer[refusedSet]
	// copies are the copies of peers' entries this process appended
	// last (federation_copies.go).
	copies copyHints
	// keys are the node's own keys this process has read
	// (federation_keys.go).
	keys nodeKeys
}

// PeerOrigin names the entry of a peer's log a replicated change comes
// from. Events a node writes while applying it carry it as "replicated",
// so that a reader (and a third node) tells copies from authored entries.
type PeerOrigin struct {
	Node     string `json:"node"` // the peer's key
	Index    int64  `json:"index"`
	LeafHash string `json:"leaf_hash"`
}

// SetPeers tells the mechanism which parties its peers host and their
// settings as their logs set them, which the agreed minima and notice
// are made of (agreement.go). The federation node calls it at start and
// whenever the peers change.
func (f Federation) SetPeers(peers []*dc.Peer) {
	m := f.m
	remote := map[string]string{}
	for _, p := range peers {
		for _, party := range p.Parties {
			remote[party] = p.Key
		}
	}
	m.fed.remote.Store(&remote)
	var ps *peerSettings
	if len(peers) > 0 {
		ps = &peerSettings{settings: map[string]dc.Settings{}, remote: remote, removed: map[string]bool{}}
		for _, p := range peers {
			s := dc.DefaultSettings() // a peer whose log never changed them
			if p.Settings != nil {
				s = *p.Settings
			}
			ps.settings[p.Key] = s
			if p.Removed {
				ps.removed[p.Key] = true
			}
		}
	}
	if !m.writer.peers.Load().equal(ps) {
		m.writer.peers.Store(ps)
	}
}

// SetStaleCheck installs the function that names the peers whose link is
// stale under the settings; activations check it.
func (f Federation) SetStaleCheck(fn func(dc.Settings) []string) { f.m.fed.stale.Store(&fn) }

// RemoteParty returns the key of the peer that hosts party, if one does.
func (f Federation) RemoteParty(party string) (string, bool) {
	m := f.m
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
	if _, ok := m.Federation().RemoteParty(a.Party); ok {
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
func (f Federation) LocalParties(ctx context.Context) ([]string, error) {
	m := f.m
	ps, err := m.Access().Parties(ctx)
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

// MaxOverrideReason is the longest reason an override may give, in bytes.
const MaxOverrideReason = 2000

// OverrideActivation records that a head of the operation's party takes
// the decision to activate it while a peer is unreachable (POST
// /v1/operations/{id}/override). It goes on the record for every party.
func (f Federation) OverrideActivation(ctx context.Context, a dc.Actor, id, reason string) (*dc.Override, error) {
	m := f.m
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

// alertRepeat is how many of a peer's latest alerts, and for how long,
// an alert that says the same as one of them is not kept again: a pull
// that is retried finds the same fault again, and a peer that alternates
// between faults must not add an entry to this node's log at every retry.
const (
	alertRepeatN   = 16
	alertRepeatFor = time.Hour
)

// KeepPeerAlert keeps an alert about a peer node and puts it on the
// record for this node's parties (their heads follow it in the event
// stream and webhooks), unless one of the latest alerts about that peer,
// kept within the hour, says the same.
func (f Federation) KeepPeerAlert(ctx context.Context, a *dc.PeerAlert) error {
	return f.KeepPeerAlertWith(ctx, a, nil)
}

// KeepPeerAlertWith is KeepPeerAlert with also (if not nil) run in the
// same transaction, whether the alert is kept or says the same as a
// recent one: what the node records of the fault commits with it.
func (f Federation) KeepPeerAlertWith(ctx context.Context, a *dc.PeerAlert, also func(dc.Tx) error) error {
	m := f.m
	err := m.store.Update(ctx, func(tx dc.Tx) error {
		ftx, ok := tx.(dc.FederationTx)
		if !ok {
			return fmt.Errorf("this store keeps no federation state")
		}
		if also != nil {
			if err := also(tx); err != nil {
				return err
			}
		}
		last, err := ftx.PeerAlerts(ctx, a.Peer, alertRepeatN)
		if err != nil {
			return err
		}
		for _, l := range last {
			if l.Kind == a.Kind && l.Message == a.Message && a.At.Sub(l.At) < alertRepeatFor {
				return nil
			}
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
