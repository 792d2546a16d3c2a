package mechanism

import (
	"context"
	"fmt"
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
	var err error = dc.Errorf(dc.ENotFound, "new subject")
	if !fresh {
		d, err = tx.Duty(ctx, dutyID(s, party))
	}
	switch {
	case dc.ErrorCode(err) == dc.ENotFound:
		d = &dc.Duty{ID: dutyID(s, party), Subject: s, Party: party, CreatedAt: now}
	case err != nil:
		return err
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

// discharge records that party acknowledged subject (up to version, for
// operations). An escalation it had is cleared.
func (m *Mechanism) discharge(ctx context.Context, tx dc.Tx, a dc.Actor, s dc.Subject, version int, party string, now time.Time) error {
	d, err := tx.Duty(ctx, dutyID(s, party))
	if dc.ErrorCode(err) == dc.ENotFound {
		return nil
	} else if err != nil {
		return err
	}
	if d.AckedAt != nil || d.ClearedAt != nil || version < d.Version {
		return nil
	}
	d.AckedAt, d.DueAt = &now, nil
	if d.Level > dc.LevelNone {
		d.ClearedAt = &now
		if err := m.appendEvent(ctx, tx, &dc.Event{
			Type: dc.EventEscalationCleared, Time: now, Actor: a,
			Subject: &dc.Subject{Kind: "escalation", ID: d.ID}, Audience: escalationAudience(d),
		}, EscalationEventData{Escalation: d}); err != nil {
			return err
		}
	}
	return tx.PutDuty(ctx, d)
}

// cancelDuties ends the duties about a subject that no longer needs an
// answer (a resolved conflict); escalations are cleared.
func (m *Mechanism) cancelDuties(ctx context.Context, tx dc.Tx, a dc.Actor, s dc.Subject, parties []string, now time.Time) error {
	for _, p := range parties {
		if err := m.discharge(ctx, tx, a, s, 1<<30, p, now); err != nil {
			return err
		}
	}
	return nil
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
		Subject: &dc.Subject{Kind: "escalation", ID: d.ID}, Audience: escalationAudience(d),
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

// Escalate raises every duty whose time is up, and returns how many it
// raised. The server calls it periodically; tests call it with their clock.
func (m *Mechanism) Escalate(ctx context.Context) (int, error) {
	raised := 0
	err := m.store.Update(ctx, func(tx dc.Tx) error {
		raised = 0
		now := m.Now()
		st, err := tx.Settings(ctx)
		if err != nil {
			return err
		}
		due, err := tx.DutiesDue(ctx, now, 1000)
		if err != nil {
			return err
		}
		system := dc.Actor{Role: "system"}
		for _, d := range due {
			if err := m.raise(ctx, tx, system, d, now, st, "not acknowledged within ack_timeout_s"); err != nil {
				return err
			}
			raised++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("escalate: %w", err)
	}
	if raised > 0 {
		m.notify()
	}
	return raised, nil
}

// RunEscalations calls Escalate every interval until ctx ends.
func (m *Mechanism) RunEscalations(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := m.Escalate(ctx); err != nil && ctx.Err() == nil {
				m.log.Error("escalation run failed", "error", err)
			}
		}
	}
}

// Escalations lists the escalated duties the actor may see: its own
// party's, and every level-2 one (all of them for observers and admins).
func (m *Mechanism) Escalations(ctx context.Context, a dc.Actor, openOnly bool) ([]*dc.Duty, error) {
	out := []*dc.Duty{}
	err := m.store.View(ctx, func(tx dc.Tx) error {
		f := dc.DutyFilter{Escalated: true, Limit: 10000}
		for {
			page, next, err := tx.Duties(ctx, f)
			if err != nil {
				return err
			}
			for _, d := range page {
				if openOnly && d.ClearedAt != nil {
					continue
				}
				if a.SeesAll() || d.Party == a.Party || d.Level >= dc.LevelAll {
					out = append(out, d)
				}
			}
			if next == "" {
				return nil
			}
			f.After = next
		}
	})
	return out, err
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
