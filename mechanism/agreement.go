package mechanism

import (
	"maps"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/geo"
)

// One agreement (contract section 7, docs/FEDERATION.md): the separation
// minima and the notice are what the parties agreed. On a federation
// node each peer's settings are known from its log; while they differ
// from this node's, a pair of operations of parties hosted on two nodes
// is decided with the stricter of the two nodes' values on each axis,
// and the notice is the longest of every trusted node's. The maximum is
// symmetric, so both nodes of a pair decide it alike and hold the same
// conflicts; and no pair that either node's values make a conflict is
// missed. A pair of parties of one node is decided with that node's
// values. On a single server, or while every node's values are equal,
// this is the settings' own minima and notice, unchanged.

// peerSettings is what the mechanism knows of its peers' settings: each
// peer's (by key, the defaults for one whose log never changed them), the
// peer hosting each remote party, and the peers this node no longer
// trusts (removed). It is replaced whole, and only when it changes
// (SetPeers), so that an agreement built from it stays current until
// then.
type peerSettings struct {
	settings map[string]dc.Settings
	remote   map[string]string
	removed  map[string]bool
}

// equal reports whether p and q hold the same values.
func (p *peerSettings) equal(q *peerSettings) bool {
	if p == nil || q == nil {
		return p == q
	}
	return maps.Equal(p.settings, q.settings) && maps.Equal(p.remote, q.remote) && maps.Equal(p.removed, q.removed)
}

// agreement is how a batch (or a what-if check) decides: the minima of
// each pair and the notice, built from this node's settings and its
// peers'.
type agreement struct {
	own     geo.Minima
	ownNote float64
	peers   *peerSettings // nil on a single server
	// local are the minima of a query by a party this node hosts;
	// byNode those of a query by a party of the peer with that key.
	local  geo.PairMinima
	byNode map[string]geo.PairMinima
	// noticeS is the longest notice_s of this node and the peers it
	// trusts (not removed ones).
	noticeS float64
}

// newAgreement builds the agreement of this node's settings own and its
// peers' ps (nil without peers).
func newAgreement(own dc.Settings, ps *peerSettings) *agreement {
	a := &agreement{own: minimaOf(own), ownNote: own.NoticeS, peers: ps, noticeS: own.NoticeS}
	a.local = geo.PairMinima{Minima: a.own}
	if ps == nil {
		return a
	}
	node := func(key string) geo.Minima {
		if key == "" {
			return a.own
		}
		return minimaOf(ps.settings[key])
	}
	// forQuery returns the minima of a query by a party of node q ("":
	// this one): those of each pair are the stricter of q's and the
	// other party's node's. Parties no peer hosts are this node's.
	forQuery := func(q string) geo.PairMinima {
		pm := geo.PairMinima{Minima: geo.Stricter(node(q), a.own)}
		for party, key := range ps.remote {
			if m := geo.Stricter(node(q), node(key)); m != pm.Minima {
				if pm.Groups == nil {
					pm.Groups = map[string]geo.Minima{}
				}
				pm.Groups[party] = m
			}
		}
		return pm
	}
	a.local = forQuery("")
	a.byNode = map[string]geo.PairMinima{}
	for key, s := range ps.settings {
		a.byNode[key] = forQuery(key)
		if !ps.removed[key] {
			// A removed peer's operations held here are still decided
			// with its minima (no conflict with them is missed), but it
			// no longer takes part in the notice this node's parties
			// agree on.
			a.noticeS = max(a.noticeS, s.NoticeS)
		}
	}
	return a
}

// matches reports whether a was built from own and ps.
func (a *agreement) matches(own dc.Settings, ps *peerSettings) bool {
	return a.peers == ps && a.own == minimaOf(own) && a.ownNote == own.NoticeS
}

// forParty returns the minima of a query by party's operations (party
// "" or one this node hosts: this node's).
func (a *agreement) forParty(party string) geo.PairMinima {
	if a.peers != nil {
		if key, ok := a.peers.remote[party]; ok {
			return a.byNode[key]
		}
	}
	return a.local
}

// pair returns the minima of a pair of operations of parties p and q.
func (a *agreement) pair(p, q string) geo.Minima {
	return a.forParty(p).Of(q)
}

// notice returns s with the agreed notice.
func (a *agreement) notice(s dc.Settings) dc.Settings {
	s.NoticeS = a.noticeS
	return s
}

// agree returns the agreement of this node's settings own and its peers'
// as they stand, and keeps it for declarations to search ahead with
// (searchAhead): it is called by each batch.
func (w *writer) agree(own dc.Settings) *agreement {
	ps := w.peers.Load()
	if a := w.agreed.Load(); a != nil && a.matches(own, ps) {
		return a
	}
	a := newAgreement(own, ps)
	w.agreed.Store(a)
	return a
}

// agreementFor returns the agreement of own and the peers' settings as
// they stand: what a what-if check decides with. It is the last batch's
// when that matches, else the last one a check built (kept apart, since
// declarations search ahead with the last batch's only).
func (w *writer) agreementFor(own dc.Settings) *agreement {
	ps := w.peers.Load()
	if a := w.agreed.Load(); a != nil && a.matches(own, ps) {
		return a
	}
	if a := w.checkAgreed.Load(); a != nil && a.matches(own, ps) {
		return a
	}
	a := newAgreement(own, ps)
	w.checkAgreed.Store(a)
	return a
}
