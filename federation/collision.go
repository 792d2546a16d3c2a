package federation

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/geo"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/record"
	"golang.org/x/mod/sumdb/tlog"
)

// Operation IDs are global on a node, so a peer's operation whose ID
// another party holds here is refused (mechanism.IDCollision). That is
// never silent: the node raises an id_collision alert naming both
// parties, the ID and every operation of this node's parties the
// refused version would conflict with (so that the heads coordinate
// them by voice), keeps the entry as evidence, and tracks the refused
// operation in the peer's record (dc.Peer.Refused) so that, until it
// ends, activating an operation it would conflict with needs a head's
// override. Each later version of a refused operation is refused in turn
// and checked again; its alert says the same, and is not repeated,
// unless its state or the operations it would conflict with changed.

const (
	// maxRefused is how many refused operations of one peer a node
	// tracks; past it every activation needs an override (see
	// dc.Peer.RefusedUntracked), as the node no longer knows which.
	maxRefused = 1000
	// refusedKept is how long after its end a refused operation is
	// tracked: the largest time_s a setting may have, past which it
	// conflicts with nothing that can still be activated.
	refusedKept = 30 * 24 * time.Hour
	// evidenceConflicts is how many of this node's operations an
	// id_collision alert's evidence lists (its message names fewer,
	// mechanism.MaxListed); the rest are counted. maxEvidenceEntry is
	// the largest refused entry the evidence copies; a larger one (an
	// operation may carry megabytes of polygons) is named by its index
	// and leaf hash, and the node keeps it with the peer's log.
	evidenceConflicts = 100
	maxEvidenceEntry  = 64 << 10
)

// collisionEvidence is the evidence of an id_collision alert.
type collisionEvidence struct {
	Operation string `json:"operation"`
	Party     string `json:"party"`
	Version   int    `json:"version"`
	State     string `json:"state"`
	// Holder is the party holding the ID here; HolderNode the key of
	// the peer hosting it, empty if this node does.
	Holder     string `json:"holder"`
	HolderNode string `json:"holder_node,omitempty"`
	// Entry is the index of the refused entry in the peer's log,
	// EntryLeafHash its leaf hash, EntrySize its length and EntryData
	// its bytes; EntryData is empty when the entry is longer than
	// maxEvidenceEntry.
	Entry         int64  `json:"entry"`
	EntryLeafHash string `json:"entry_leaf_hash"`
	EntrySize     int    `json:"entry_size"`
	EntryData     string `json:"entry_data"`
	// Conflicts is how many of this node's operations the refused
	// version would conflict with; ConflictsWith lists the first
	// evidenceConflicts of them, by ID.
	Conflicts     int            `json:"conflicts"`
	ConflictsWith []conflictWith `json:"conflicts_with"`
}

// conflictWith is an operation of this node's that a refused operation
// would conflict with.
type conflictWith struct {
	Operation  string        `json:"operation"`
	Party      string        `json:"party"`
	Separation dc.Separation `json:"separation"`
}

// idCollision alerts and tracks a peer's operation the mechanism refused
// for an ID collision, and moves the peer's cursor past its entry.
func (n *Node) idCollision(ctx context.Context, key string, st step, c *mechanism.IDCollision) error {
	op := c.Operation
	hits, err := n.mech.Federation().CheckRefused(ctx, op)
	if err != nil {
		return fmt.Errorf("check refused operation %s: %w", op.ID, err)
	}
	holderNode, _ := n.mech.Federation().RemoteParty(c.Holder)
	msg, evidence, err := collisionAlert(op, c.Holder, holderNode, hits, st.index, st.data)
	if err != nil {
		return err
	}
	// The alert, the tracking and the cursor past the entry commit
	// together: a restart in between neither loses the alert nor
	// forgets the refused operation.
	overflowed := false
	err = n.alertWith(ctx, key, "id_collision", msg, evidence, func(tx dc.Tx) error {
		overflowed = false
		return updatePeer(ctx, tx, key, func(p *dc.Peer) error {
			p.Applied = max(p.Applied, st.index+1)
			now := n.now()
			var kept []dc.RefusedEntry
			for _, r := range p.Refused {
				if (r.Operation == op.ID && r.Party == op.Party) || now.Sub(r.End) > refusedKept {
					continue // replaced by this version, or long over
				}
				kept = append(kept, r)
			}
			if op.State.Live() {
				if len(kept) < maxRefused {
					kept = append(kept, dc.RefusedEntry{Operation: op.ID, Party: op.Party, Index: st.index, End: op.End})
				} else if !p.RefusedUntracked {
					p.RefusedUntracked, overflowed = true, true
				}
			}
			p.Refused = kept
			return nil
		})
	})
	if err != nil {
		return err
	}
	if overflowed {
		n.alert(ctx, key, "id_collision", fmt.Sprintf("more than %d of this peer's operations were refused for an ID collision: this node no longer tracks which, and every activation here needs a head's override until the peer is removed", maxRefused), "")
	}
	_, err = n.Refresh(ctx)
	return err
}

// collisionAlert returns the message and the evidence of the
// id_collision alert of op, refused because party holder (hosted by the
// peer of key holderNode, "" if by this node) holds its ID here, whose
// version would conflict with hits among this node's operations; it came
// as entry index of the peer's log, of bytes data. Both are bounded
// whatever the number of hits: the message names the first
// mechanism.MaxListed operations by ID and counts the rest, with a
// fingerprint of the whole list, so that the alert is repeated when any
// of them changes (an alert with the same message is not); the evidence
// lists the first evidenceConflicts and copies the entry up to
// maxEvidenceEntry bytes.
func collisionAlert(op *dc.Operation, holder, holderNode string, hits []geo.Hit, index int64, data []byte) (msg, evidence string, err error) {
	hits = slices.Clone(hits)
	slices.SortFunc(hits, func(a, b geo.Hit) int { return cmp.Or(cmp.Compare(a.ID, b.ID), cmp.Compare(a.Group, b.Group)) })
	ev := collisionEvidence{Operation: op.ID, Party: op.Party, Version: op.Version, State: string(op.State),
		Holder: holder, HolderNode: holderNode, Entry: index, EntryLeafHash: tlog.RecordHash(data).String(), EntrySize: len(data),
		Conflicts: len(hits), ConflictsWith: []conflictWith{}}
	if len(data) <= maxEvidenceEntry {
		ev.EntryData = string(data)
	}
	who := fmt.Sprintf("party %s of this node", holder)
	if holderNode != "" {
		who = fmt.Sprintf("party %s (hosted by peer %s)", holder, keyName(holderNode))
	}
	with := make([]string, 0, len(hits))
	fp := sha256.New()
	for i, h := range hits {
		if i < evidenceConflicts {
			ev.ConflictsWith = append(ev.ConflictsWith, conflictWith{Operation: h.ID, Party: h.Group, Separation: h.Separation})
		}
		with = append(with, fmt.Sprintf("%s (%s)", h.ID, h.Group))
		fmt.Fprintf(fp, "%s %s\n", h.ID, h.Group)
	}
	conflicts := "none of this node's operations"
	if len(with) > 0 {
		conflicts = fmt.Sprintf("%d of this node's operations: %s", len(with), mechanism.ListSome(with))
		if len(with) > mechanism.MaxListed {
			conflicts += fmt.Sprintf(" (the evidence lists the first %d; fingerprint of the whole list %x)", min(len(with), evidenceConflicts), fp.Sum(nil)[:4])
		}
		conflicts += "; coordinate them by voice: activating them needs a head's override while it stands"
	}
	msg = fmt.Sprintf("operation %s of party %s was refused: %s holds that ID here, so this node cannot hold it nor open its conflicts (one of the two nodes reused the other's ID). As received (%s), it would conflict with %s",
		op.ID, op.Party, who, op.State, conflicts)
	b, err := json.Marshal(ev)
	if err != nil {
		return "", "", err
	}
	return msg, string(b), nil
}

// refusedKey names a refused operation's entry in a peer's log.
type refusedKey struct {
	peer  string
	index int64
}

// refusedOf returns the refused operations of the trusted peers, reading
// the entries that hold them once (n.refused keeps them).
func (n *Node) refusedOf(ctx context.Context, ftx dc.FederationTx, peers []*dc.Peer) (mechanism.Refused, error) {
	var out mechanism.Refused
	n.mu.Lock()
	cache := n.refused
	n.mu.Unlock()
	next := map[refusedKey]*dc.Operation{}
	for _, p := range peers {
		if p.Removed {
			continue
		}
		if p.RefusedUntracked {
			out.Untracked++
		}
		for _, r := range p.Refused {
			k := refusedKey{p.Key, r.Index}
			op, ok := cache[k]
			if !ok {
				var err error
				if op, err = refusedOperation(ctx, ftx, p.Key, r); err != nil {
					return out, err
				}
				if op == nil {
					n.log.Error("federation: a refused operation's entry does not read", slog.String("peer", keyName(p.Key)),
						slog.Int64("entry", r.Index), slog.String("operation", r.Operation))
				}
			}
			next[k] = op
			if op != nil {
				out.Operations = append(out.Operations, op)
			}
		}
	}
	n.mu.Lock()
	n.refused = next
	n.mu.Unlock()
	return out, nil
}

// refusedOperation reads the operation of a refused entry of a peer's
// log; nil if the entry is not kept or holds no such operation.
func refusedOperation(ctx context.Context, ftx dc.FederationTx, key string, r dc.RefusedEntry) (*dc.Operation, error) {
	es, err := ftx.PeerEntries(ctx, key, r.Index, 1)
	if err != nil || len(es) == 0 || es[0].Index != r.Index || es[0].Data == nil {
		return nil, err
	}
	e, err := record.DecodeEntry(es[0].Data)
	if err != nil {
		return nil, nil
	}
	var b entryBody
	if err := json.Unmarshal(e.Data, &b); err != nil || b.Operation == nil || b.Operation.ID != r.Operation || b.Operation.Party != r.Party {
		return nil, nil
	}
	return b.Operation, nil
}
