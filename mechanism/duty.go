package mechanism

import (
	"context"
	"fmt"
	"slices"
	"time"

	dc "github.com/deconflict/deconflict"
)

// Duties: every declaration (each version of an operation) must be
// acknowledged by every other party, every conflict by each party involved,
// every hotline message and line check by each addressee. A duty not
// acknowledged within ack_timeout_s escalates to the party's heads (level
// 1), and after another ack_timeout_s to every party's heads and the admins
// (level 2). Escalation runs inside write transactions, so whichever
// process runs it, a level is raised once.

// Duty is the part of the mechanism that escalates acknowledgements not
// given in time: raising every duty whose time is up (once, or on a
// timer), and the list of escalations a party may read. It is a view over
// the same Mechanism, kept as its own type so that surface can be read
// alone.
type Duty struct{ m *Mechanism }

// Duty returns the duty view of m.
func (m *Mechanism) Duty() Duty { return Duty{m: m} }

// dutyID is the one duty a party has about a subject.
func dutyID(s dc.Subject, party string) string { return s.Kind + ":" + s.ID + ":" + party }

// EscalationEventData is the body of escalation.* events.
type EscalationEventData struct {
	Escalation *dc.Duty `json:"escalation"`
	Reason     string   `json:"reason,omitempty"`
}

// owe records that party must acknowledge subject (at version, for
// operations). An unacknowledged duty about an earlier version carries on,
// with its timer and level; an acknowledged one starts again. fresh says
// the subject is new, so no duty about it can exist yet.
func (m *Mechanism) owe(ctx context.Context, tx dc.Tx, s dc.Subject, version int, party string, now time.Time, st dc.Settings, fresh bool) error {
	var d *dc.Duty
	if !fresh {
		var err error
		d, err = tx.Duty(ctx, dutyID(s, party))
		if dc.ErrorCode(err) == dc.ENotFound {
			d = nil
		} else if err != nil {
			return err
		}
	}
	return oweFrom(ctx, tx, d, s, version, party, now, st)
}

// oweFrom is owe given the party's duty about subject as it stands (nil
// if it has none).
func oweFrom(ctx context.Context, tx dc.Tx, d *dc.Duty, s dc.Subject, version int, party string, now time.Time, st dc.Settings) error {
	switch {
	case d == nil:
		d = &dc.Duty{ID: dutyID(s, party), Subject: s, Party: party, CreatedAt: now}
	case d.AckedAt == nil && d.ClearedAt == nil:
		d.Version = version // still unanswered: its timer and level carry on
		return tx.PutDuty(ctx, d)
	default:
		*d = dc.Duty{ID: d.ID, Subject: s, Party: party, CreatedAt: now}
	}
	due := now.Add(seconds(st.AckTimeoutS))
	d.Version, d.DueAt = version, &due
	return tx.PutDuty(ctx, d)
}

// A new operation is owed an acknowledgement by every other party. Rather
// than a duty per party (the writes of a declaration would grow with the
// number of parties), its first version gets one group duty
// (dc.GroupDutyParty), which stands for every other party there
// at the declaration, as the declaration's own transaction read them
// (not by comparing clocks, which may differ between replicas). It stands
// for the duty of each of them that has no duty of its own about the
// operation. A party gets its own duty from the group when it
// acknowledges (already acknowledged), when the group comes due
// (escalated at once), or when the operation changes (the group's timer
// carries on for it); the last two close the group. So while a group
// stands, every party's own duty about the operation is an acknowledged
// one.

// groupID returns the ID of the group duty about the first version of
// operation op. It sorts after every other duty ID ("~" is past every
// letter and digit) and then by the time op was declared, so that new
// group duties join the index of duty IDs at its very end, in a page each
// batch shares. An ID that began with the operation's own (random) ID
// would cost a write of a page anywhere in that index per declaration, and
// one that sorted among the other IDs would split pages in their midst.
// Stores may also hold groups in the older form dutyID(subject, dc.GroupDuty),
// which standingGroup still finds.
func groupID(op *dc.Operation) string {
	return fmt.Sprintf("~operation:%016d:%s", op.CreatedAt.UnixMicro(), op.ID)
}

// opSubject is what duties about operation op are about.
func opSubject(op *dc.Operation) dc.Subject { return dc.Subject{Kind: dc.SubjectOperation, ID: op.ID} }

// oweGroup records that every party but its own must acknowledge the
// first version of a new operation.
func oweGroup(ctx context.Context, tx dc.Tx, op *dc.Operation, parties []*dc.Party, now time.Time, st dc.Settings) error {
	var owing []string
	for _, p := range parties {
		if p.ID != op.Party {
			owing = append(owing, p.ID)
		}
	}
	due := now.Add(seconds(st.AckTimeoutS))
	return tx.PutDuty(ctx, &dc.Duty{ID: groupID(op), Subject: opSubject(op), Party: dc.GroupDutyParty(owing),
		Version: op.Version, CreatedAt: now, DueAt: &due})
}

// standingGroup returns the group duty about an operation if it still
// stands; nil if it never existed (an operation stored before group
// duties) or was closed.
func standingGroup(ctx context.Context, tx dc.Tx, op *dc.Operation) (*dc.Duty, error) {
	g, err := tx.Duty(ctx, groupID(op))
	if dc.ErrorCode(err) == dc.ENotFound {
		g, err = tx.Duty(ctx, dutyID(opSubject(op), dc.GroupDuty)) // the older form of its ID
	}
	if dc.ErrorCode(err) == dc.ENotFound {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	if g.AckedAt != nil || g.ClearedAt != nil {
		return nil, nil
	}
	return g, nil
}

// owedBy reports whether the group duty g stands for party p.
func owedBy(g *dc.Duty, p string) bool { return slices.Contains(g.GroupParties(), p) }

// partyDuty returns the duty of party p that the group duty g stands for:
// unanswered and not escalated, with the group's timer.
func partyDuty(g *dc.Duty, p string) *dc.Duty {
	return &dc.Duty{ID: dutyID(g.Subject, p), Subject: g.Subject, Party: p, Version: g.Version,
		CreatedAt: g.CreatedAt, DueAt: g.DueAt}
}

// closeGroup records that a group duty stands for no one any more.
func closeGroup(ctx context.Context, tx dc.Tx, g *dc.Duty, now time.Time) error {
	g.AckedAt, g.DueAt = &now, nil
	if g.Level > dc.LevelNone && g.ClearedAt == nil {
		g.ClearedAt = &now // raised as a duty of its own by an older version
	}
	return tx.PutDuty(ctx, g)
}

// oweVersion records that every other party must acknowledge a new
// version of an operation of owner: the parties the group duty stood for
// carry on with its timer, like any unanswered duty.
func (m *Mechanism) oweVersion(ctx context.Context, tx dc.Tx, op *dc.Operation, parties []*dc.Party, now time.Time, st dc.Settings) error {
	g, err := standingGroup(ctx, tx, op)
	if err != nil {
		return err
	}
	s, version := opSubject(op), op.Version
	for _, p := range parties {
		if p.ID == op.Party {
			continue
		}
		d, err := tx.Duty(ctx, dutyID(s, p.ID))
		switch {
		case dc.ErrorCode(err) == dc.ENotFound:
			d = nil
			if g != nil && owedBy(g, p.ID) {
				d = partyDuty(g, p.ID)
			}
		case err != nil:
			return err
		}
		if err := oweFrom(ctx, tx, d, s, version, p.ID, now, st); err != nil {
			return err
		}
	}
	if g != nil {
		return closeGroup(ctx, tx, g, now)
	}
	return nil
}

// dischargeOperation records that an ended or cancelled operation needs no
// more answers.
func (m *Mechanism) dischargeOperation(ctx context.Context, tx dc.Tx, a dc.Actor, op *dc.Operation, parties []*dc.Party, now time.Time) error {
	g, err := standingGroup(ctx, tx, op)
	if err != nil {
		return err
	}
	if g != nil {
		// The parties' own duties are all acknowledged ones.
		return closeGroup(ctx, tx, g, now)
	}
	for _, p := range parties {
		if p.ID == op.Party {
			continue
		}
		if err := m.discharge(ctx, tx, a, opSubject(op), 1<<30, p.ID, now); err != nil {
			return err
		}
	}
	return nil
}

// acknowledgeOperation records that party acknowledged an operation up to
// version: its own duty, or the one the group duty stood for.
func (m *Mechanism) acknowledgeOperation(ctx context.Context, tx dc.Tx, a dc.Actor, op *dc.Operation, version int, party string, now time.Time) error {
	d, err := tx.Duty(ctx, dutyID(opSubject(op), party))
	if dc.ErrorCode(err) == dc.ENotFound {
		g, err := standingGroup(ctx, tx, op)
		if err != nil || g == nil || version < g.Version {
			return err
		}
		d = partyDuty(g, party)
	} else if err != nil {
		return err
	}
	return m.dischargeDuty(ctx, tx, a, d, version, now)
}

// discharge records that party acknowledged subject (up to version, for
// operations). An escalation it had is cleared.
func (m *Mechanism) discharge(ctx context.Context, tx dc.Tx, a dc.Actor, s dc.Subject, version int, party string, now time.Time) error {
	d, err := tx.Duty(ctx, dutyID(s, party))
	if dc.ErrorCode(err) == dc.ENotFound {
		return nil
	} else if err != nil {
		return err
	}
	return m.dischargeDuty(ctx, tx, a, d, version, now)
}

// dischargeDuty is discharge given the duty.
func (m *Mechanism) dischargeDuty(ctx context.Context, tx dc.Tx, a dc.Actor, d *dc.Duty, version int, now time.Time) error {
	if d.AckedAt != nil || d.ClearedAt != nil || version < d.Version {
		return nil
	}
	d.AckedAt, d.DueAt = &now, nil
	if d.Level > dc.LevelNone {
		d.ClearedAt = &now
		if err := m.appendEvent(ctx, tx, &dc.Event{
			Type: dc.EventEscalationCleared, Time: now, Actor: a,
			Subject: &dc.Subject{Kind: dc.SubjectEscalation, ID: d.ID}, Audience: escalationAudience(d),
		}, EscalationEventData{Escalation: d}); err != nil {
			return err
		}
	}
	return tx.PutDuty(ctx, d)
}

// raise escalates a duty one level and records it.
func (m *Mechanism) raise(ctx context.Context, tx dc.Tx, a dc.Actor, d *dc.Duty, now time.Time, st dc.Settings, reason string) error {
	d.Level++
	if d.RaisedAt == nil {
		d.RaisedAt = &now
	}
	d.DueAt = nil
	if d.Level < dc.LevelAll {
		due := now.Add(seconds(st.AckTimeoutS))
		d.DueAt = &due
	}
	if err := tx.PutDuty(ctx, d); err != nil {
		return err
	}
	return m.appendEvent(ctx, tx, &dc.Event{
		Type: dc.EventEscalationRaised, Time: now, Actor: a,
		Subject: &dc.Subject{Kind: dc.SubjectEscalation, ID: d.ID}, Audience: escalationAudience(d),
	}, EscalationEventData{Escalation: d, Reason: reason})
}

// escalationAudience: level 1 concerns the party that has not answered;
// level 2 concerns everyone.
func escalationAudience(d *dc.Duty) []string {
	if d.Level >= dc.LevelAll {
		return nil
	}
	return []string{d.Party}
}

// escalationChunk is the most duties one escalation transaction raises
// (a group duty's parties are raised together, so it may go over by a
// party count). A store full of unanswered duties that all came due at
// once (after a pause of the timer, or with many parties) is raised in
// transactions of this size, so declarations get the write lock between
// them instead of waiting for all of it.
const escalationChunk = 256

// Escalate raises every duty whose time is up, and returns how many it
// raised. The server calls it periodically; tests call it with their clock.
func (du Duty) Escalate(ctx context.Context) (int, error) {
	m := du.m
	total := 0
	for {
		raised, more, err := m.escalateChunk(ctx)
		total += raised
		if raised > 0 {
			m.notify()
		}
		if err != nil {
			return total, fmt.Errorf("escalate: %w", err)
		}
		if !more {
			return total, nil
		}
	}
}

// escalateChunk raises, in one transaction, up to about escalationChunk
// duties whose time is up. more says others may be due.
func (m *Mechanism) escalateChunk(ctx context.Context) (raised int, more bool, err error) {
	err = m.store.Update(ctx, func(tx dc.Tx) error {
		raised, more = 0, false
		now := m.Now()
		st, err := tx.Settings(ctx)
		if err != nil {
			return err
		}
		due, err := tx.DutiesDue(ctx, now, escalationChunk)
		if err != nil {
			return err
		}
		more = len(due) == escalationChunk
		system := dc.Actor{Role: dc.RoleSystem}
		for _, d := range due {
			if raised >= escalationChunk {
				more = true // the rest still are
				break
			}
			if !d.IsGroup() {
				if err := m.raise(ctx, tx, system, d, now, st, notAcknowledged); err != nil {
					return err
				}
				raised++
				continue
			}
			n, err := m.raiseGroup(ctx, tx, system, d, now, st)
			if err != nil {
				return err
			}
			raised += n
		}
		return nil
	})
	if err != nil {
		return 0, false, err
	}
	return raised, more, nil
}

// notAcknowledged is the reason of a raise by the timer.
const notAcknowledged = "not acknowledged within ack_timeout_s"

// raiseGroup escalates a group duty that came due: each party it stands
// for that has no duty of its own gets its own, escalated. It returns how
// many it raised.
func (m *Mechanism) raiseGroup(ctx context.Context, tx dc.Tx, a dc.Actor, g *dc.Duty, now time.Time, st dc.Settings) (int, error) {
	op, err := tx.Operation(ctx, g.Subject.ID)
	if dc.ErrorCode(err) == dc.ENotFound || (err == nil && !op.State.Live()) {
		return 0, closeGroup(ctx, tx, g, now) // nothing to answer any more
	} else if err != nil {
		return 0, err
	}
	raised := 0
	for _, p := range g.GroupParties() {
		_, err := tx.Duty(ctx, dutyID(g.Subject, p))
		if err == nil {
			continue // acknowledged while the group stood
		} else if dc.ErrorCode(err) != dc.ENotFound {
			return 0, err
		}
		if err := m.raise(ctx, tx, a, partyDuty(g, p), now, st, notAcknowledged); err != nil {
			return 0, err
		}
		raised++
	}
	return raised, closeGroup(ctx, tx, g, now)
}

// RunEscalations calls Escalate every interval until ctx ends.
func (du Duty) RunEscalations(ctx context.Context, interval time.Duration) {
	m := du.m
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := du.Escalate(ctx); err != nil && ctx.Err() == nil {
				m.log.Error("escalation run failed", "error", err)
			}
		}
	}
}

// Escalations lists the escalated duties the actor may see: its own
// party's, and every level-2 one (all of them for admins).
func (du Duty) Escalations(ctx context.Context, a dc.Actor, openOnly bool) ([]*dc.Duty, error) {
	out := []*dc.Duty{}
	after := ""
	for {
		page, next, err := du.EscalationsPage(ctx, a, openOnly, 10000, after)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if next == "" {
			return out, nil
		}
		after = next
	}
}

// EscalationsPage is a page of Escalations: up to limit of them after the
// cursor, and the cursor of the next page ("" after the last).
func (du Duty) EscalationsPage(ctx context.Context, a dc.Actor, openOnly bool, limit int, after string) ([]*dc.Duty, string, error) {
	m := du.m
	visible := func(d *dc.Duty) bool {
		if d.IsGroup() || (openOnly && d.ClearedAt != nil) {
			return false // a group is never an escalation (see closeGroup)
		}
		return a.SeesAllTraffic() || d.Party == a.Party || d.Level >= dc.LevelAll
	}
	out := []*dc.Duty{}
	var next string
	err := m.store.View(ctx, func(tx dc.Tx) error {
		f := dc.DutyFilter{Escalated: true, After: after}
		for {
			// Each page of the store is taken whole, so its cursor is
			// also that of the page answered.
			f.Limit = limit - len(out)
			page, n, err := tx.Duties(ctx, f)
			if err != nil {
				return err
			}
			for _, d := range page {
				if visible(d) {
					out = append(out, d)
				}
			}
			if next = n; n == "" {
				return nil
			}
			f.After = n
			if len(out) == limit {
				// Answer next only if another page has one to show.
				more, err := anyEscalation(ctx, tx, f, visible)
				if !more {
					next = ""
				}
				return err
			}
		}
	})
	if err != nil {
		return nil, "", err
	}
	return out, next, nil
}

// anyEscalation reports whether the escalated duties f selects hold one
// that passes visible.
func anyEscalation(ctx context.Context, tx dc.Tx, f dc.DutyFilter, visible func(*dc.Duty) bool) (bool, error) {
	f.Limit = 1000
	for {
		page, next, err := tx.Duties(ctx, f)
		if err != nil {
			return false, err
		}
		for _, d := range page {
			if visible(d) {
				return true, nil
			}
		}
		if next == "" {
			return false, nil
		}
		f.After = next
	}
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
