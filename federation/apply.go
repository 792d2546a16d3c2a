package federation

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/record"
)

// entryBody is what the applier reads of an event's body.
type entryBody struct {
	Operation   *dc.Operation         `json:"operation"`
	Conflict    *dc.Conflict          `json:"conflict"`
	Signed      string                `json:"signed"`
	Receipt     *mechanism.Receipt    `json:"receipt"`
	NodeReceipt *record.NodeReceipt   `json:"node_receipt"`
	Replicated  *mechanism.PeerOrigin `json:"replicated"`
	Settings    *dc.Settings          `json:"settings"`
}

// applyStored applies, in log order, the kept entries of a peer's log
// that are not applied yet.
func (n *Node) applyStored(ctx context.Context, key string) error {
	for {
		p, err := n.storedPeer(ctx, key)
		if err != nil {
			return err
		}
		if p.Applied >= p.Verified {
			return nil
		}
		var entries []dc.PeerEntry
		err = n.store.View(ctx, func(tx dc.Tx) error {
			ftx, err := federationTx(tx)
			if err != nil {
				return err
			}
			entries, err = ftx.PeerEntries(ctx, key, p.Applied, 200)
			return err
		})
		if err != nil {
			return err
		}
		if len(entries) == 0 || entries[0].Index != p.Applied {
			return fmt.Errorf("peer %s: entry %d is not kept", keyName(key), p.Applied)
		}
		run := int64(-1) // the first of a run of entries that change nothing here, not yet passed
		flush := func(to int64) error {
			if run < 0 {
				return nil
			}
			err := n.advance(ctx, key, run, to)
			run = -1
			return err
		}
		end := p.Applied
		for _, e := range entries {
			if e.Index >= p.Verified {
				break
			}
			end = e.Index + 1
			if act := n.plan(ctx, p, e); act != nil {
				if err := flush(e.Index); err != nil {
					return err
				}
				applied, err := act()
				if err != nil {
					return err
				}
				if applied {
					continue
				}
			}
			if run < 0 {
				run = e.Index
			}
		}
		if err := flush(end); err != nil {
			return err
		}
	}
}

// mark returns the function that moves the peer's cursor past entry
// index, in the transaction that applies it: EExists if it was applied
// before.
func mark(ctx context.Context, key string, index int64) func(dc.Tx) error {
	return func(tx dc.Tx) error {
		return updatePeer(ctx, tx, key, func(p *dc.Peer) error {
			if p.Applied != index {
				return dc.Errorf(dc.EExists, "entry %d of the peer's log was applied before", index)
			}
			p.Applied = index + 1
			return nil
		})
	}
}

// advance moves the cursor from from to to over entries that change
// nothing here.
func (n *Node) advance(ctx context.Context, key string, from, to int64) error {
	return n.store.Update(ctx, func(tx dc.Tx) error {
		return updatePeer(ctx, tx, key, func(p *dc.Peer) error {
			if p.Applied == from {
				p.Applied = to
			}
			return nil
		})
	})
}

// opTypes are the event types that carry an operation's new version.
var opTypes = map[string]bool{
	dc.EventOperationDeclared: true, dc.EventOperationUpdated: true, dc.EventOperationActivated: true,
	dc.EventOperationEnded: true, dc.EventOperationCancelled: true,
}

// plan decides what one entry of a peer's log does here: nil for an
// entry that changes nothing (withheld, a copy of another node's entry, a
// kind this node does not apply, or wrong, which is alerted), else the
// action that applies it. The action reports false when the mechanism
// refused the entry (alerted, then passed like the others); an error is
// a failure of this node, to retry.
func (n *Node) plan(ctx context.Context, p *dc.Peer, pe dc.PeerEntry) func() (bool, error) {
	if pe.Data == nil {
		return nil
	}
	e, err := record.ParseEntry(pe.Data)
	if err != nil {
		return nil // checked when kept
	}
	var b entryBody
	if len(e.Data) > 0 {
		if err := json.Unmarshal(e.Data, &b); err != nil {
			n.alert(ctx, p.Key, "malformed", fmt.Sprintf("entry %d (%s): body does not read: %v", pe.Index, e.Type, err), string(pe.Data))
			return nil
		}
	}
	if b.Replicated != nil {
		return nil // a copy of an entry of another node's log: that node is where it is pulled from
	}
	applies := opTypes[e.Type] || e.Type == dc.EventConflictAcked || e.Type == dc.EventConflictWaived || e.Type == dc.EventOperationReceipt
	if applies && !p.Hosts(e.Actor.Party) {
		n.alert(ctx, p.Key, "forged", fmt.Sprintf("entry %d is a %s by party %q, which this peer does not host", pe.Index, e.Type, e.Actor.Party), string(pe.Data))
		return nil
	}
	origin := mechanism.PeerOrigin{Node: p.Key, Index: pe.Index, LeafHash: base64.StdEncoding.EncodeToString(pe.LeafHash[:])}
	m := mark(ctx, p.Key, pe.Index)
	var apply func() error
	switch {
	case opTypes[e.Type] && b.Operation != nil:
		apply = func() error { return n.mech.ApplyPeerOperation(ctx, origin, e.Actor, b.Operation, m) }
	case (e.Type == dc.EventConflictAcked || e.Type == dc.EventConflictWaived) && b.Conflict != nil:
		apply = func() error {
			return n.mech.ApplyPeerConflict(ctx, origin, e.Actor, e.Type, b.Conflict.ID, e.Time, b.Signed, m)
		}
	case e.Type == dc.EventOperationReceipt && b.Receipt != nil:
		apply = func() error { return n.mech.ApplyPeerReceipt(ctx, origin, e.Actor, b.Receipt, e.Time, m) }
	case e.Type == dc.EventSettingsChanged && b.Settings != nil && e.Actor.Party == "":
		apply = func() error { return n.keepSettings(ctx, p.Key, pe.Index, *b.Settings) }
	case e.Type == dc.EventOperationReceived && b.NodeReceipt != nil:
		r := b.NodeReceipt
		if r.Key != p.Key {
			n.alert(ctx, p.Key, "forged", fmt.Sprintf("entry %d is a node receipt signed with another key than the peer's (%s)", pe.Index, keyName(r.Key)), string(pe.Data))
			return nil
		}
		if _, err := record.CheckNodeReceipt(r); err != nil {
			n.alert(ctx, p.Key, "bad_signature", fmt.Sprintf("entry %d: %v", pe.Index, err), string(pe.Data))
			return nil
		}
		if _, remote := n.mech.RemoteParty(r.Party); remote {
			return nil // a receipt of another node's operation
		}
		apply = func() error { return n.mech.KeepNodeReceipt(ctx, origin, r, m) }
	default:
		return nil
	}
	return func() (bool, error) {
		err := apply()
		switch code := dc.ErrorCode(err); code {
		case "":
			return true, nil
		case dc.EExists:
			return true, nil // applied before (a duplicate pull, or another process)
		case dc.EInternal:
			return false, fmt.Errorf("apply entry %d of peer %s: %w", pe.Index, keyName(p.Key), err)
		default:
			n.alert(ctx, p.Key, "rejected", fmt.Sprintf("entry %d (%s) was refused: %s", pe.Index, e.Type, dc.ErrorMessage(err)), string(pe.Data))
			return false, nil
		}
	}
}

// keepSettings records a peer's settings as its log changed them, and
// says in the log when they differ from this node's in what the parties
// must agree on (the status shows it as an alert until they match).
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
	own, err := n.mech.Settings(ctx)
	if err != nil {
		return err
	}
	if diff := dc.AgreedDifferences(own, st); len(diff) > 0 {
		n.log.Warn("federation alert", slog.String("peer", keyName(key)), slog.String("kind", "settings"),
			slog.String("message", "the peer's settings differ: "+strings.Join(diff, "; ")))
	}
	return nil
}
