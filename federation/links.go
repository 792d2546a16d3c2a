package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/lease"
)

// Several replicas of one node (`deconflict serve` processes on one
// PostgreSQL database) share its store, and the work of the node's links
// must be done once: pulling each peer's log, keeping and cosigning its
// checkpoints, applying its entries (with the receipts they make) and
// checking the peer's receipts. Only the replica holding the pull lease
// (PullLease, taken with the store's leases, dc.Leaser) pulls; the others
// take it over within the lease's retry after the holder stops, dies or
// loses the database, and resume from the cursors stored with what was
// applied. Every replica still answers its peers' pulls and GET
// /v1/federation, and checks activations against the links' states:
// those states are the holder's, which it stores (linksMeta) for the
// others. A store without leases (SQLite) has one process, which pulls.
//
// The holder learns that it lost the lease only when Lost closes: on
// PostgreSQL a ping and its timeout after the server ended the lease's
// session (its connection was killed, say), while its other connections
// still work and another replica may already pull. So that two replicas
// never keep, cosign or store the same pages, every write transaction of
// the work under the lease first checks, under the store's write lock,
// that the lease is still held (fencedStore, dc.FencedLease).

// PullLease names the lease of the replica of a node that pulls its
// peers.
const PullLease = "federation"

// linksMeta names the meta row in which the replica pulling the peers
// keeps each link's state for the other replicas (linkRecords).
const linksMeta = "federation/links"

// shareEvery is how often at most the replica pulling the peers stores
// the links' states: a replica that does not pull sees a peer's last
// answer at most about this much (and the one-second read of the peers)
// later than the puller did.
const shareEvery = time.Second

// linkRecord is the state of the pull from one peer, as the replica
// pulling it last stored it.
type linkRecord struct {
	// LastSeen is when the peer's last answer that verified arrived, on
	// the clock of the replica that pulled it; zero if none yet.
	LastSeen time.Time `json:"last_seen,omitzero"`
	// Size is the peer's log size that answer reported.
	Size int64 `json:"size,omitempty"`
	// LastError is why the last pull failed, if it did.
	LastError string `json:"last_error,omitempty"`
	// Since is when the node began to pull the peer: the start of the
	// first replica that pulled it (carried over by those that took the
	// pull over), on its clock. A peer that never answered is down once
	// peer_silence_s passed since then (state), whichever replica judges.
	Since time.Time `json:"since,omitzero"`
}

// linkRecords are the links' states by peer key, as stored under
// linksMeta.
type linkRecords map[string]linkRecord

// seenHere is a link's LastSeen as the replica pulling stored it (raw),
// and as this process holds it (local): no later than this process's
// clock when it first read it (onOwnClock).
type seenHere struct{ raw, local time.Time }

// onOwnClock makes each LastSeen of recs, the links' states as the
// replica pulling stored them, no later than this process's clock (now)
// when it first read that value. LastSeen is on the puller's clock: one
// running ahead of this process's would otherwise make a silent link
// look up here (to GET /v1/federation and the check of activations
// against stale peers) for that much longer, and a replica must err
// towards stale. Called with n.mu held.
func (n *Node) onOwnClock(recs linkRecords, now time.Time) {
	seen := make(map[string]seenHere, len(recs))
	for key, r := range recs {
		s, ok := n.seenHere[key]
		if !ok || !s.raw.Equal(r.LastSeen) {
			s = seenHere{raw: r.LastSeen, local: r.LastSeen}
			if r.LastSeen.After(now) {
				s.local = now
			}
		}
		seen[key] = s
		r.LastSeen = s.local
		recs[key] = r
	}
	n.seenHere = seen
}

// readLinks returns the links' states stored in tx; none if none were.
func readLinks(ctx context.Context, tx dc.Tx) (linkRecords, error) {
	b, err := tx.Meta(ctx, linksMeta)
	if dc.ErrorCode(err) == dc.ENotFound {
		return linkRecords{}, nil
	}
	if err != nil {
		return nil, err
	}
	recs := linkRecords{}
	if err := json.Unmarshal(b, &recs); err != nil {
		return nil, fmt.Errorf("the links' states stored under %s: %w", linksMeta, err)
	}
	return recs, nil
}

// recordOf returns a link's state. Called with n.mu held.
func recordOf(l *link) linkRecord {
	return linkRecord{LastSeen: l.lastSeen, Size: l.size, LastError: l.lastErr, Since: l.since}
}

// linkState returns the state of the link to the peer with the key: this
// process's own while it pulls, else the one the replica pulling last
// stored. Called with n.mu held.
func (n *Node) linkState(key string) linkRecord {
	if !n.pulling {
		return n.shared[key]
	}
	if l := n.links[key]; l != nil {
		return recordOf(l)
	}
	return linkRecord{}
}

// ownLinks returns the states of the links this process pulls.
func (n *Node) ownLinks() linkRecords {
	n.mu.Lock()
	defer n.mu.Unlock()
	recs := linkRecords{}
	for key, l := range n.links {
		recs[key] = recordOf(l)
	}
	return recs
}

// fencedStore is a store whose write transactions, when their context
// carries a lease that can tell (lease.Of, dc.FencedLease), commit only
// while it is held: they fail with dc.ErrLeaseLost, having changed
// nothing, in a replica that lost the pull lease but was not told yet.
type fencedStore struct{ dc.Store }

func (s fencedStore) Update(ctx context.Context, fn func(dc.Tx) error) error {
	l, ok := lease.Of(ctx).(dc.FencedLease)
	if !ok {
		return s.Store.Update(ctx, fn)
	}
	return s.Store.Update(ctx, func(tx dc.Tx) error {
		if err := l.HeldIn(ctx, tx); err != nil {
			return err
		}
		return fn(tx)
	})
}

// share stores the links' states recs for the other replicas, unless
// they are those it stored last.
func (n *Node) share(ctx context.Context, recs linkRecords) {
	n.mu.Lock()
	same := maps.Equal(recs, n.stored)
	n.mu.Unlock()
	if same {
		return
	}
	b, err := json.Marshal(recs)
	if err == nil {
		err = n.store.Update(ctx, func(tx dc.Tx) error { return tx.PutMeta(ctx, linksMeta, b) })
	}
	if err != nil {
		if ctx.Err() == nil && !errors.Is(err, dc.ErrLeaseLost) {
			n.log.Warn("federation: cannot store the links' states for the other replicas", slog.Any("error", err))
		}
		return
	}
	n.mu.Lock()
	n.stored = recs
	n.mu.Unlock()
}
