package deconflict

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"
)

// Event types of a federation node's record.
const (
	// EventOperationReceived is a node's signed receipt of a version of a
	// peer's operation: in the receiving node's log, and kept by the
	// author's node in its own log once it has pulled it.
	EventOperationReceived = "operation.received"
	// EventOperationsReceived is a node's receipt of the versions of a
	// peer's operations it applied together, those of one party that one
	// page of the peer's log brought it (record.NodeReceipts): in the
	// receiving node's log, and kept by the author's node as its
	// receipt of each.
	EventOperationsReceived = "operations.received"
	// EventFederationAlert tells this node's parties that a peer node
	// was caught doing something wrong (see PeerAlert).
	EventFederationAlert = "federation.alert"
	// EventOperationOverride is a head's recorded decision to activate an
	// operation while a peer node is unreachable (coordinated by voice).
	EventOperationOverride = "operation.override"
)

// Link states of a peer (contract section 13).
const (
	PeerUp    = "up"
	PeerStale = "stale"
	PeerDown  = "down"
)

// Peer is another node of the federation that this node trusts: the
// parties it hosts, where it is reached, and the public key (a signed-note
// verifier string) with which it signs its requests, its checkpoints and
// its receipts. The rest is how far this node has followed its log.
type Peer struct {
	Key     string   `json:"key"`
	Parties []string `json:"parties"`
	// Hosted are the other sets of parties this node trusted the peer's
	// key with, as its earlier descriptors named them (or as they were
	// before a new node took some of them over), oldest first. The
	// receipts the peer gave while it hosted one of them name it, and
	// its cosignatures of this node's log are shown with Parties, so an
	// evidence bundle names both (record.PeerWitness).
	Hosted  [][]string `json:"hosted,omitempty"`
	URL     string     `json:"url"`
	AddedAt time.Time  `json:"added_at"`
	// Verified is the size of the peer's log whose every leaf hash this
	// node holds and has checked against Checkpoint, the peer's signed
	// checkpoint of that size.
	Verified   int64  `json:"verified"`
	Checkpoint string `json:"checkpoint,omitempty"`
	// Applied is how many entries of the peer's log this node has applied
	// to its own state (at most Verified).
	Applied int64 `json:"applied"`
	// Settings are the peer's settings as its log last changed them; nil
	// while it never did (it has the defaults).
	Settings *Settings `json:"settings,omitempty"`
	// Cosigned is Checkpoint with this node's cosignature (the C2SP
	// tlog-cosignature format): what this node, as a witness of the
	// peer's log, shows its other peers.
	Cosigned string `json:"cosigned,omitempty"`
	// Witness is this node's own checkpoint as the peer, a witness of
	// this node's log, last cosigned it and passed it back: GET
	// /v1/log/checkpoint carries its cosignature while the log has not
	// grown past it.
	Witness string `json:"witness,omitempty"`
	// Area is the airspace the peer's descriptor declares its parties fly
	// in (Box); nil when it declares none, which means anywhere.
	Area []Box `json:"area,omitempty"`
	// Removed is set when this node stopped trusting the peer: its
	// parties stay hosted elsewhere (nobody here may act for them), but
	// the node neither pulls from it nor answers it.
	Removed bool `json:"removed,omitempty"`
	// Refused are the peer's operations this node could not apply
	// because another party holds their ID here (an ID collision): the
	// entry of the peer's log with the latest version received, for each
	// one while it is live. Activating an operation of this node that one
	// of them would conflict with needs a head's override.
	Refused []RefusedEntry `json:"refused,omitempty"`
	// RefusedUntracked is set once more of the peer's operations were
	// refused than a node tracks: from then on every activation on this
	// node needs a head's override.
	RefusedUntracked bool `json:"refused_untracked,omitempty"`
}

// RefusedEntry names a peer's operation refused for an ID collision and
// the entry of the peer's log that holds its latest version.
type RefusedEntry struct {
	Operation string    `json:"operation"`
	Party     string    `json:"party"`
	Index     int64     `json:"index"`
	End       time.Time `json:"end"` // the end of its last volume
}

// Box is a latitude-longitude box in degrees, [min_lng, min_lat,
// max_lng, max_lat], as the bbox of GET /v1/operations: a box whose
// min_lng is greater than its max_lng crosses the antimeridian, and
// min_lng -180 with max_lng 180 is every longitude. A peer node declares
// its airspace as boxes (Peer.Area).
type Box [4]float64

// UnmarshalJSON reads a box strictly: an array of exactly four numbers.
func (b *Box) UnmarshalJSON(data []byte) error {
	var v []float64
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	if len(v) != 4 {
		return fmt.Errorf("a box is [min_lng, min_lat, max_lng, max_lat], not %d numbers", len(v))
	}
	copy(b[:], v)
	return nil
}

// Validate checks that the box's latitudes are in [-90, 90] with the
// minimum at most the maximum, and its longitudes in [-180, 180].
func (b Box) Validate() error {
	minLng, minLat, maxLng, maxLat := b[0], b[1], b[2], b[3]
	for _, v := range b {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("the box %v has a number that is not finite", b)
		}
	}
	if minLat < -90 || maxLat > 90 || minLat > maxLat || minLng < -180 || minLng > 180 || maxLng < -180 || maxLng > 180 {
		return fmt.Errorf("the box %v must be min_lng,min_lat,max_lng,max_lat in degrees: latitudes in [-90, 90] with min_lat <= max_lat, longitudes in [-180, 180]", b)
	}
	return nil
}

// SetParties makes parties the peer's, keeping the set it had before in
// Hosted if it differs (in any order) from the new one and from every
// set kept there.
func (p *Peer) SetParties(parties []string) {
	same := func(a, b []string) bool {
		a, b = slices.Clone(a), slices.Clone(b)
		slices.Sort(a)
		slices.Sort(b)
		return slices.Equal(a, b)
	}
	if len(p.Parties) > 0 && !same(p.Parties, parties) &&
		!slices.ContainsFunc(p.Hosted, func(h []string) bool { return same(h, p.Parties) }) {
		p.Hosted = append(p.Hosted, slices.Clone(p.Parties))
	}
	p.Parties = parties
}

// Hosts reports whether the peer hosts party.
func (p *Peer) Hosts(party string) bool {
	for _, q := range p.Parties {
		if q == party {
			return true
		}
	}
	return false
}

// AgreedDifferences names the settings the parties must agree on (the
// separation minima and the notice) whose values differ between s and
// t, as "name: s value ≠ t value".
func AgreedDifferences(s, t Settings) []string {
	var out []string
	for _, f := range []struct {
		name string
		a, b float64
	}{
		{"horizontal_m", s.HorizontalM, t.HorizontalM}, {"vertical_m", s.VerticalM, t.VerticalM},
		{"time_s", s.TimeS, t.TimeS}, {"notice_s", s.NoticeS, t.NoticeS},
	} {
		if f.a != f.b {
			out = append(out, fmt.Sprintf("%s: %g here, %g there", f.name, f.a, f.b))
		}
	}
	return out
}

// PeerEntry is one entry of a peer's log as this node received it: its
// bytes when this node may see it, else only its leaf hash.
type PeerEntry struct {
	Index    int64
	LeafHash [32]byte
	Data     []byte // nil when withheld
}

// PeerAlert is something wrong that a node found about a peer: a forged
// or edited entry, a rolled-back or forked log, a signature that does not
// verify, settings that differ. Evidence holds what proves it (signed
// checkpoints, entries), as text.
type PeerAlert struct {
	ID       int64     `json:"id"`
	Peer     string    `json:"peer"` // the peer's key
	Kind     string    `json:"kind"`
	Message  string    `json:"message"`
	Evidence string    `json:"evidence,omitempty"`
	At       time.Time `json:"at"`
}

// Override is a head's recorded decision to activate an operation while a
// peer was unreachable.
type Override struct {
	Operation string    `json:"operation"`
	Party     string    `json:"party"`
	Reason    string    `json:"reason"`
	At        time.Time `json:"at"`
}

// FederationTx is a Tx of a store that can hold a federation node: its
// own URL, its peers, the peers' log entries and hashes, alerts and
// overrides. Stores need not implement it; a node needs a store that
// does.
type FederationTx interface {
	// NodeURL returns where peers reach this node ("" if never set).
	NodeURL(ctx context.Context) (string, error)
	PutNodeURL(ctx context.Context, url string) error

	// PutPeer inserts the peer or replaces the one with its key.
	PutPeer(ctx context.Context, p *Peer) error
	// Peers lists the peers in the order they were added.
	Peers(ctx context.Context) ([]*Peer, error)
	// MarkApplied moves the peer's Applied cursor to index+1 if it is at
	// most index, and reports whether it did.
	MarkApplied(ctx context.Context, key string, index int64) (bool, error)

	// PutPeerHashes stores hashes of a peer's Merkle log at consecutive
	// storage indexes from start (tlog numbering), as PutLogHashes does
	// for the node's own log.
	PutPeerHashes(ctx context.Context, peer string, start int64, hashes [][32]byte) error
	// PeerHashes returns the hashes at the storage indexes; ENotFound if
	// any is missing.
	PeerHashes(ctx context.Context, peer string, indexes []int64) ([][32]byte, error)
	// PutPeerEntries stores entries of a peer's log; an entry already
	// stored at an index is kept as it is.
	PutPeerEntries(ctx context.Context, peer string, entries []PeerEntry) error
	// PeerEntries returns up to limit stored entries of the peer's log
	// from index from on, in order.
	PeerEntries(ctx context.Context, peer string, from int64, limit int) ([]PeerEntry, error)

	// AddPeerAlert stores an alert and sets its ID.
	AddPeerAlert(ctx context.Context, a *PeerAlert) error
	// PeerAlerts lists the latest alerts about a peer (all peers if
	// empty), newest first, at most limit.
	PeerAlerts(ctx context.Context, peer string, limit int) ([]*PeerAlert, error)

	// PutOverride stores an override, replacing one for the operation.
	PutOverride(ctx context.Context, o *Override) error
	// Override returns the override of an operation; ENotFound if none.
	Override(ctx context.Context, operation string) (*Override, error)
}
