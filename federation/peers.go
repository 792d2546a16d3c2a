package federation

import (
	"context"
	"fmt"
	"slices"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/mechanism"
)

// Init records where peers reach this node and returns its descriptor:
// the parties it hosts (every party of the store that no peer hosts), the
// URL, its key, and the area given (the airspace its parties fly in; none
// means anywhere). The area is not stored: it is what the printed
// descriptor tells the peers.
func Init(ctx context.Context, m *mechanism.Mechanism, url string, area ...dc.Box) (*Descriptor, error) {
	if err := checkURL(url); err != nil {
		return nil, fmt.Errorf("--url: %v", err)
	}
	for _, b := range area {
		if err := b.Validate(); err != nil {
			return nil, fmt.Errorf("--area: %v", err)
		}
	}
	if err := m.Federation().EnsureKey(ctx); err != nil {
		return nil, err
	}
	err := m.Store().Update(ctx, func(tx dc.Tx) error {
		ftx, err := federationTx(tx)
		if err != nil {
			return err
		}
		return ftx.PutNodeURL(ctx, url)
	})
	if err != nil {
		return nil, err
	}
	d, err := Describe(ctx, m)
	if err != nil || len(area) == 0 {
		return d, err
	}
	d.Area = area
	return d, d.Validate()
}

// Describe returns this node's descriptor as Init made it, without an
// area.
func Describe(ctx context.Context, m *mechanism.Mechanism) (*Descriptor, error) {
	var url string
	var peers []*dc.Peer
	err := m.Store().View(ctx, func(tx dc.Tx) error {
		ftx, err := federationTx(tx)
		if err != nil {
			return err
		}
		if url, err = ftx.NodeURL(ctx); err != nil {
			return err
		}
		peers, err = ftx.Peers(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	if url == "" {
		return nil, fmt.Errorf("this node has no URL yet: run `deconflict federation init --url URL`")
	}
	m.Federation().SetPeers(peers)
	local, err := m.Federation().LocalParties(ctx)
	if err != nil {
		return nil, err
	}
	if len(local) == 0 {
		return nil, fmt.Errorf("this node hosts no party: add one first (`deconflict party add ID`)")
	}
	k, err := m.Federation().NodeKey(ctx)
	if err != nil {
		return nil, err
	}
	d := &Descriptor{Parties: local, URL: url, Key: k.Verifier}
	return d, d.Validate()
}

// AddPeer trusts the node a descriptor describes: its parties are created
// here, as parties hosted by that peer, and it may pull this node's log
// as they may see it. Adding a peer again updates its URL and parties and
// keeps all the node knows of its log (how far it was followed, its
// settings, what was refused from it).
func AddPeer(ctx context.Context, m *mechanism.Mechanism, d *Descriptor) (*dc.Peer, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	if err := m.Federation().EnsureKey(ctx); err != nil {
		return nil, err
	}
	own, err := m.Federation().NodeKey(ctx)
	if err != nil {
		return nil, err
	}
	if own.Verifier == d.Key {
		return nil, fmt.Errorf("the descriptor is this node's own")
	}
	var out *dc.Peer
	err = m.Store().Update(ctx, func(tx dc.Tx) error {
		ftx, peers, err := storedPeers(ctx, tx)
		if err != nil {
			return err
		}
		if err := refuseOwnParties(ctx, tx, peers, d); err != nil {
			return err
		}
		out = &dc.Peer{Key: d.Key, AddedAt: m.Now()}
		var released []*dc.Peer
		before := map[*dc.Peer][]string{} // a released peer's parties before
		for _, p := range peers {
			if p.Key == d.Key {
				// Everything the node learnt of the peer's log stays:
				// how far it was followed, its settings, and the
				// operations refused for an ID collision (the cursor is
				// past them; forgetting them would unblock activations).
				kept := *p
				kept.Removed = false
				out = &kept
				if err := refuseDropped(p, d); err != nil {
					return err
				}
				continue
			}
			for _, party := range d.Parties {
				if !p.Hosts(party) {
					continue
				}
				if !p.Removed {
					return fmt.Errorf("party %s is hosted by the peer at %s already", party, p.URL)
				}
				// A node that was removed hands its party over to the new
				// one (a key rotation, a node rebuilt). The old peer stays,
				// removed, with what was kept of its log: the receipts it
				// signed for this node's operations are proven from that
				// log in their evidence bundles.
				if !slices.Contains(released, p) {
					released = append(released, p)
					before[p] = slices.Clone(p.Parties)
				}
				p.Parties = slices.DeleteFunc(p.Parties, func(q string) bool { return q == party })
			}
		}
		for _, p := range released {
			left := p.Parties
			p.Parties = before[p]
			p.SetParties(left)
			if err := ftx.PutPeer(ctx, p); err != nil {
				return err
			}
		}
		// What the descriptor says, it says afresh; the parties the key
		// hosted before stay known, for the receipts it gave then.
		out.URL, out.Area = d.URL, d.Area
		out.SetParties(d.Parties)
		return ftx.PutPeer(ctx, out)
	})
	if err != nil {
		return nil, err
	}
	for _, party := range d.Parties {
		if _, err := m.Access().AddParty(ctx, party, ""); err != nil && dc.ErrorCode(err) != dc.EExists {
			return nil, fmt.Errorf("create party %s: %w", party, err)
		}
	}
	return out, nil
}

// refuseDropped refuses a descriptor of p's key that no longer names a
// party p hosts. No other node hosts that party here (a party has one
// host), so trusting the descriptor would make it a party of this node's
// own, authored here in the name of a party another node hosted. The
// node that hosts it now is added first: it takes the party over.
func refuseDropped(p *dc.Peer, d *Descriptor) error {
	for _, party := range p.Parties {
		if !slices.Contains(d.Parties, party) {
			return fmt.Errorf("the descriptor of the node at %s no longer names party %s, which that node hosts here: "+
				"add the descriptor of the node that hosts %s now first (it takes the party over), or the party would become this node's own", p.URL, party, party)
		}
	}
	return nil
}

// refuseOwnParties refuses a descriptor that claims a party this node
// hosts (one that exists here and that no peer, present or removed,
// hosts): trusting it would make the peer the only author of that
// party's operations, answers and messages, and forbid them here.
func refuseOwnParties(ctx context.Context, tx dc.Tx, peers []*dc.Peer, d *Descriptor) error {
	parties, err := tx.Parties(ctx)
	if err != nil {
		return err
	}
	here := map[string]bool{}
	for _, p := range parties {
		here[p.ID] = true
	}
	for _, p := range peers {
		for _, party := range p.Parties {
			delete(here, party)
		}
	}
	for _, party := range d.Parties {
		if here[party] {
			return dc.Errorf(dc.EForbidden, "party %s is hosted by this node: a peer may not claim it", party)
		}
	}
	return nil
}

// Peers lists the peers this node trusts (not those removed).
func Peers(ctx context.Context, store dc.Store) ([]*dc.Peer, error) {
	var peers []*dc.Peer
	err := store.View(ctx, func(tx dc.Tx) error {
		ftx, err := federationTx(tx)
		if err != nil {
			return err
		}
		all, err := ftx.Peers(ctx)
		for _, p := range all {
			if !p.Removed {
				peers = append(peers, p)
			}
		}
		return err
	})
	return peers, err
}

// RemovePeer stops trusting the peer that hosts party: this node no
// longer pulls from it nor answers it. Its parties and their operations
// stay as they were last received, and stay hosted elsewhere: nobody may
// act for them here (adding a node that hosts them hands them over).
func RemovePeer(ctx context.Context, store dc.Store, party string) (*dc.Peer, error) {
	var gone *dc.Peer
	err := store.Update(ctx, func(tx dc.Tx) error {
		ftx, peers, err := storedPeers(ctx, tx)
		if err != nil {
			return err
		}
		for _, p := range peers {
			if p.Hosts(party) && !p.Removed {
				gone = p
				p.Removed = true
				return ftx.PutPeer(ctx, p)
			}
		}
		return dc.Errorf(dc.ENotFound, "no peer hosts party %s", party)
	})
	return gone, err
}
