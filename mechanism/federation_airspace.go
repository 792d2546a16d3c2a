package mechanism

import (
	"context"
	"fmt"
	"slices"
	"strings"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/geo"
	"github.com/golang/geo/s1"
	"github.com/golang/geo/s2"
)

// While a peer node is stale, what it declared since is unknown here, so
// an activation that could conflict with it, or a change of the volumes
// of an active operation that could, needs a head's recorded override. What could conflict is judged by the peer's airspace:
//
//   - the area its descriptor declares (boxes, dc.Peer.Area), or
//     everywhere when it declares none;
//   - and the bounding box (of all its volumes) of each of its
//     operations this node holds in a state that is or may become live
//     (planned or active): the places it flies already.
//
// The operation could meet that airspace when one of its volumes,
// widened by the horizontal separation minimum (the larger of this
// node's and the peer's, as its log last set them, the defaults if it
// never did), meets one of those
// boxes. The airspace has no altitudes and no times (the peer may
// declare any), so the vertical and time minima do not narrow it.
// Widening is by bounding rectangles (geo.ExpandRect), so the test errs
// on the side of refusing: an operation a little farther than the
// minimum from a box may still be held, one nearer never passes.

// staleReach says why op (of parsed volumes vols, nil to parse them)
// could conflict with what stale peers declared since: each stale peer
// whose airspace it could meet, and why; "" when it is out of reach of
// every one, or no peer is stale.
func (m *Mechanism) staleReach(ctx context.Context, tx dc.Tx, op *dc.Operation, vols []geo.Volume, st dc.Settings) (string, error) {
	fn := m.fed.stale.Load()
	if fn == nil {
		return "", nil
	}
	stale := (*fn)(st)
	ftx, ok := tx.(dc.FederationTx)
	if len(stale) == 0 || !ok {
		return "", nil
	}
	peers, err := ftx.Peers(ctx)
	if err != nil {
		return "", err
	}
	if vols == nil {
		if vols, err = geo.ParseVolumes(op.Volumes, "volumes"); err != nil {
			return "", err
		}
	}
	ix := m.writer.index.Load()
	var reach []string
	for _, key := range slices.Sorted(slices.Values(stale)) {
		i := slices.IndexFunc(peers, func(p *dc.Peer) bool { return p.Key == key })
		if i < 0 {
			continue // removed since
		}
		if why := peerReach(ix, peers[i], vols, st); why != "" {
			reach = append(reach, why)
		}
	}
	if len(reach) == 0 {
		return "", nil
	}
	return fmt.Sprintf("peer node(s) silent for longer than peer_silence_s (%gs) whose airspace the operation could meet: %s; it may conflict with what they declared since",
		st.PeerSilenceS, strings.Join(reach, "; ")), nil
}

// peerReach says whether, and why, volumes vols could meet the airspace
// of peer p: "" if not.
func peerReach(ix *geo.Index, p *dc.Peer, vols []geo.Volume, st dc.Settings) string {
	name := strings.Join(p.Parties, ", ") + "'s node"
	if len(p.Area) == 0 {
		return name + " (it declares no area: its airspace is everywhere)"
	}
	// The pairs with the peer's parties are decided with the larger
	// horizontal_m of the two nodes, the peer's being the defaults while
	// its log never changed them (SetPeers, agreement.go).
	theirs := dc.DefaultSettings()
	if p.Settings != nil {
		theirs = *p.Settings
	}
	h := max(st.HorizontalM, theirs.HorizontalM)
	rects := make([]s2.Rect, len(vols))
	for i, v := range vols {
		rects[i] = geo.ExpandRect(v.Footprint.RectBound(), s1.Angle(h/geo.EarthRadiusM))
	}
	for _, b := range p.Area {
		box := BBox{MinLng: b[0], MinLat: b[1], MaxLng: b[2], MaxLat: b[3]}.rect()
		for _, r := range rects {
			if r.Intersects(box) {
				return fmt.Sprintf("%s (within horizontal_m of its declared area %v)", name, b)
			}
		}
	}
	for _, r := range rects {
		if id, ok := ix.EntryBoundMeetingRect(r, p.Hosts); ok {
			return fmt.Sprintf("%s (within horizontal_m of the bounding box of its operation %s)", name, id)
		}
	}
	return ""
}
