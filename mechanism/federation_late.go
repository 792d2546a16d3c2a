package mechanism

import (
	"context"
	"fmt"
	"time"

	dc "github.com/deconflict/deconflict"
)

// Conflicts a cut link hid. While the link between two nodes is cut, each
// side may declare an operation that conflicts with what the other
// declared meanwhile; neither node can see it. When the link returns and
// the pull catches up, the engine opens that conflict on applying the
// peer's version. Such a conflict is marked "found late" with the time
// each party declared its side of it, and its duty is escalated to the
// party's heads at once (level 1) instead of after ack_timeout_s: both
// operations may already be under way, and the operators who would
// acknowledge it in the ordinary course were never told. Level 1 on each
// node reaches that node's party's heads, so the heads of both parties
// learn of it at once; level 2 follows after ack_timeout_s as usual.
//
// A peer's version is late when it reaches this node more than
// peer_silence_s (the silence after which a link is stale) after its
// author declared it. The declaration time is the author's clock: a skew
// between the nodes' clocks larger than peer_silence_s would misjudge it.

// markFoundLate sets or clears FoundLate on the conflicts a change
// (re)opens (touched, given the existing ones), and returns those found
// late.
func (m *Mechanism) markFoundLate(ctx context.Context, tx dc.Tx, ch *change, existing, touched []*dc.Conflict, st dc.Settings, now time.Time) ([]*dc.Conflict, error) {
	wasOpen := map[string]bool{}
	for _, c := range existing {
		wasOpen[c.ID] = c.Status == dc.ConflictOpen
	}
	late := ch.peer != nil && now.Sub(ch.op.UpdatedAt) > seconds(st.PeerSilenceS)
	var found []*dc.Conflict
	for _, c := range touched {
		if c.Status != dc.ConflictOpen || wasOpen[c.ID] {
			continue
		}
		c.FoundLate = nil
		if !late {
			continue
		}
		other, err := tx.Operation(ctx, c.Other(ch.op.ID))
		if err != nil {
			return nil, fmt.Errorf("conflict %s found late: %w", c.ID, err)
		}
		c.FoundLate = map[string]time.Time{
			ch.op.Party: ch.op.UpdatedAt.UTC(),
			other.Party: other.UpdatedAt.UTC(),
		}
		found = append(found, c)
	}
	return found, nil
}

// escalateFoundLate raises at once the duty of each of this node's
// parties about each conflict found late (see markFoundLate).
func (m *Mechanism) escalateFoundLate(ctx context.Context, tx dc.Tx, found []*dc.Conflict, st dc.Settings, now time.Time) error {
	system := dc.Actor{Role: dc.RoleSystem}
	for _, c := range found {
		for _, p := range c.Parties {
			if _, remote := m.Federation().RemoteParty(p); remote || !m.givesReceipts(p) {
				continue // owed, and escalated, on its own node; or never
			}
			d, err := tx.Duty(ctx, dutyID(dc.Subject{Kind: dc.SubjectConflict, ID: c.ID}, p))
			if err != nil {
				return err
			}
			if d.Level > dc.LevelNone || d.AckedAt != nil || d.ClearedAt != nil {
				continue
			}
			reason := fmt.Sprintf("conflict found late, after a cut link: %s declared at %s, %s at %s",
				c.Parties[0], c.FoundLate[c.Parties[0]].Format(time.RFC3339), c.Parties[1], c.FoundLate[c.Parties[1]].Format(time.RFC3339))
			if err := m.raise(ctx, tx, system, d, now, st, reason); err != nil {
				return err
			}
		}
	}
	return nil
}
