package federation

import (
	"context"
	"slices"
	"strings"
	"time"

	dc "github.com/deconflict/deconflict"
)

// Status is the answer of GET /v1/federation (contract section 13).
type Status struct {
	Node  NodeStatus   `json:"node"`
	Peers []PeerStatus `json:"peers"`
}

// NodeStatus describes this node.
type NodeStatus struct {
	Parties []string `json:"parties"`
	URL     string   `json:"url"`
	Key     string   `json:"key,omitempty"`
}

// PeerStatus is one peer's link as this node sees it.
type PeerStatus struct {
	Parties []string `json:"parties"`
	URL     string   `json:"url"`
	Key     string   `json:"key"`
	// Area is the airspace the peer's descriptor declares (absent:
	// anywhere): while the peer is not up, only activations that could
	// meet it, or the peer's operations held here, need an override.
	Area     []dc.Box   `json:"area,omitempty"`
	State    string     `json:"state"`
	LastSeen *time.Time `json:"last_seen"`
	// Behind is how many entries of the peer's log, as far as this node
	// knows its size, are not applied here yet.
	Behind    int64   `json:"behind"`
	LastError string  `json:"last_error,omitempty"`
	Alerts    []Alert `json:"alerts"`
}

// Alert is an alert about a peer as the status shows it.
type Alert struct {
	Kind    string    `json:"kind"`
	Message string    `json:"message"`
	At      time.Time `json:"at"`
}

// alertsShown is how many of the latest alerts of a peer the status shows.
const alertsShown = 20

// Status returns this node's parties and each peer's link state.
func (n *Node) Status(ctx context.Context) (*Status, error) {
	sr, err := n.readStatus(ctx)
	if err != nil {
		return nil, err
	}
	st, peers, alerts := sr.settings, sr.peers, sr.alerts
	out := &Status{Node: NodeStatus{Parties: slices.Clone(sr.local), URL: sr.url, Key: sr.key}, Peers: []PeerStatus{}}
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, p := range peers {
		if p.Removed {
			continue
		}
		l := n.linkState(p.Key)
		ps := PeerStatus{Parties: p.Parties, URL: p.URL, Key: p.Key, Area: p.Area, State: n.state(l, st), Alerts: []Alert{}, LastError: l.LastError}
		if !l.LastSeen.IsZero() {
			t := l.LastSeen.UTC()
			ps.LastSeen = &t
		}
		ps.Behind = max(0, max(p.Verified, l.Size)-p.Applied)
		theirs := dc.DefaultSettings()
		if p.Settings != nil {
			theirs = *p.Settings
		}
		if diff := dc.AgreedDifferences(st, theirs); len(diff) > 0 {
			ps.Alerts = append(ps.Alerts, Alert{Kind: "settings", At: n.now().UTC(),
				Message: "the settings the parties agree on differ: " + strings.Join(diff, "; ") + "; make them match on both nodes"})
		}
		for _, a := range alerts[p.Key] {
			ps.Alerts = append(ps.Alerts, Alert{Kind: a.Kind, Message: a.Message, At: a.At})
		}
		out.Peers = append(out.Peers, ps)
	}
	return out, nil
}

// statusRead is what Status reads from the store. GET /v1/federation is
// asked often (every console asks), and these reads were most of its
// time, so the last one is kept with the store's commit mark taken before
// it (dc.CommitWatcher): while the mark stays the same, nothing was
// committed since, by this process or another, and what was read is
// still what the store holds. A store without a commit mark is read every
// time. What is kept is never changed, only replaced.
type statusRead struct {
	mark     dc.CommitMark
	settings dc.Settings
	local    []string
	url, key string
	peers    []*dc.Peer
	alerts   map[string][]*dc.PeerAlert
}

// readStatus returns what Status reads from the store, from the last read
// if nothing was committed since.
func (n *Node) readStatus(ctx context.Context) (*statusRead, error) {
	var mark dc.CommitMark
	marked := false
	if cw, ok := n.mech.Store().(dc.CommitWatcher); ok {
		mark, marked = cw.CommitMark()
	}
	if marked {
		n.mu.Lock()
		last := n.lastStatus
		n.mu.Unlock()
		if last != nil && last.mark == mark {
			return last, nil
		}
	}
	if _, err := n.Refresh(ctx); err != nil {
		return nil, err
	}
	sr := &statusRead{mark: mark, alerts: map[string][]*dc.PeerAlert{}}
	var err error
	if sr.settings, err = n.mech.Settings().Get(ctx); err != nil {
		return nil, err
	}
	if sr.local, err = n.mech.Federation().LocalParties(ctx); err != nil {
		return nil, err
	}
	err = n.store.View(ctx, func(tx dc.Tx) error {
		ftx, ok := tx.(dc.FederationTx)
		if !ok {
			return nil
		}
		if sr.url, err = ftx.NodeURL(ctx); err != nil {
			return err
		}
		if sr.peers, err = ftx.Peers(ctx); err != nil {
			return err
		}
		for _, p := range sr.peers {
			if sr.alerts[p.Key], err = ftx.PeerAlerts(ctx, p.Key, alertsShown); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(sr.peers) > 0 {
		if k, err := n.mech.Federation().NodeKey(ctx); err == nil {
			sr.key = k.Verifier
		}
	}
	if marked {
		n.mu.Lock()
		n.lastStatus = sr
		n.mu.Unlock()
	}
	return sr, nil
}
