package mechanism

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/record"
)

// appendEvent stores e with data as its body, in the caller's transaction.
// A json.RawMessage or copyBody body is taken as it is: it must be what
// json.Marshal writes; a copyBody's entry is remembered as a copy of a
// peer's entry (federation_copies.go).
func (m *Mechanism) appendEvent(ctx context.Context, tx dc.Tx, e *dc.Event, data any) error {
	_, err := m.appendLogged(ctx, tx, e, data)
	return err
}

// appendLogged is appendEvent; it returns the entry logged, for the
// writer to remember once its batch commits (federation_entries.go).
func (m *Mechanism) appendLogged(ctx context.Context, tx dc.Tx, e *dc.Event, data any) (loggedEntry, error) {
	if c, ok := data.(copyBody); ok {
		// Already what json.Marshal wrote (withOrigin): marshalling it
		// again would only scan and copy it.
		e.Data = json.RawMessage(c)
		if err := tx.AppendEvent(ctx, e); err != nil {
			return loggedEntry{}, fmt.Errorf("append %s event: %w", e.Type, err)
		}
		leaf, _, err := record.AppendMarshalledLeaf(ctx, tx, e)
		if err != nil {
			return loggedEntry{}, fmt.Errorf("log %s event: %w", e.Type, err)
		}
		// Remembered before the commit: only a hint, which PeerLog
		// checks against the log's leaf hash (federation_copies.go).
		m.fed.copies.add(e.Seq-1, leaf)
		return loggedEntry{index: e.Seq - 1, leaf: leaf, typ: e.Type}, nil
	}
	appendToLog := record.AppendLeaf
	if data != nil {
		appendToLog = record.AppendMarshalledLeaf
		if raw, ok := data.(json.RawMessage); ok {
			// Already what json.Marshal wrote.
			e.Data = raw
		} else {
			b, err := json.Marshal(data)
			if err != nil {
				return loggedEntry{}, fmt.Errorf("encode %s event: %w", e.Type, err)
			}
			e.Data = b
		}
	}
	if err := tx.AppendEvent(ctx, e); err != nil {
		return loggedEntry{}, fmt.Errorf("append %s event: %w", e.Type, err)
	}
	leaf, rec, err := appendToLog(ctx, tx, e)
	if err != nil {
		return loggedEntry{}, fmt.Errorf("log %s event: %w", e.Type, err)
	}
	if isCopy(e) {
		rec = nil // a peer is sent its leaf hash (isCopy)
	}
	return loggedEntry{index: e.Seq - 1, leaf: leaf, record: rec, typ: e.Type, audience: e.Audience}, nil
}

// Events returns up to limit events after seq that the actor may see,
// fewer once their data passes dc.MaxPageBytes (at least one, if there is
// one): the next page starts after the last one returned. Events the
// actor may not see are read a bounded page at a time and dropped, so
// the memory taken stays bounded however many there are.
func (m *Mechanism) Events(ctx context.Context, a dc.Actor, after int64, limit int) ([]*dc.Event, error) {
	if limit <= 0 || limit > 10000 {
		limit = 1000
	}
	var out []*dc.Event
	size := 0 // of the data of the events in out
	err := m.store.View(ctx, func(tx dc.Tx) error {
		for len(out) < limit && size <= dc.MaxPageBytes {
			if err := ctx.Err(); err != nil {
				return err
			}
			budget := max(1, dc.MaxPageBytes-size)
			page, err := tx.EventsWithin(ctx, after, limit, budget)
			if err != nil {
				return err
			}
			read := 0
			for _, e := range page {
				read += len(e.Data)
				if len(out) == limit || size > dc.MaxPageBytes {
					return nil
				}
				after = e.Seq
				if e.VisibleTo(a) {
					out = append(out, e)
					size += len(e.Data)
				}
			}
			if len(page) < limit && read <= budget {
				return nil // the end of the log
			}
		}
		return nil
	})
	return out, err
}

// pendingEvent is an event and its body, not yet appended.
type pendingEvent struct {
	event *dc.Event
	data  any
}

// OperationEventData is the body of operation.* events: the operation as
// every party sees it.
type OperationEventData struct {
	Operation *dc.Operation `json:"operation"`
}

// NoticeEventData is the body of notice.short.
type NoticeEventData struct {
	Operation string  `json:"operation"`
	Party     string  `json:"party"`
	LeadTimeS float64 `json:"lead_time_s"`
	NoticeS   float64 `json:"notice_s"`
}

// ConflictEventData is the body of conflict.* events.
type ConflictEventData struct {
	Conflict *dc.Conflict `json:"conflict"`
	// Signed is the acknowledging party's own signature (a signed note),
	// on conflict.acknowledged events where it gave one.
	Signed string `json:"signed,omitempty"`
}

// operationEvents returns the events a change of an operation produces:
// what happened to it, and a short-notice warning if it now starts sooner
// than the agreed notice.
func operationEvents(ch *change, a dc.Actor, now time.Time, s dc.Settings) []pendingEvent {
	op := ch.op
	subject := &dc.Subject{Kind: dc.SubjectOperation, ID: op.ID}
	body := OperationEventData{Operation: op.SharedView()}
	var types []string
	switch {
	case ch.prev == nil:
		types = append(types, dc.EventOperationDeclared)
	default:
		if ch.volumesChanged || op.Priority != ch.prev.Priority || op.ShareCallsign != ch.prev.ShareCallsign ||
			!equalPtr(op.Callsign, ch.prev.Callsign) || !equalPtr(op.Notes, ch.prev.Notes) {
			types = append(types, dc.EventOperationUpdated)
		}
		if op.State != ch.prev.State {
			types = append(types, map[dc.State]string{
				dc.StateActive:    dc.EventOperationActivated,
				dc.StateEnded:     dc.EventOperationEnded,
				dc.StateCancelled: dc.EventOperationCancelled,
			}[op.State])
		}
	}
	var audience []string
	if ch.sharedUnchanged() {
		// A change of the notes, or of an unshared callsign, is the
		// party's own business: other parties are not told it happened.
		audience = []string{op.Party}
	}
	var out []pendingEvent
	for _, t := range types {
		out = append(out, pendingEvent{&dc.Event{Type: t, Time: now, Actor: a, Subject: subject, Audience: audience}, body})
	}
	movedEarlier := ch.prev != nil && ch.volumesChanged && op.Start.Before(ch.prev.Start)
	if op.State.Live() && (ch.prev == nil || movedEarlier) {
		lead := op.Start.Sub(now).Seconds()
		if lead < s.NoticeS {
			out = append(out, pendingEvent{
				&dc.Event{Type: dc.EventNoticeShort, Time: now, Actor: a, Subject: subject},
				NoticeEventData{Operation: op.ID, Party: op.Party, LeadTimeS: lead, NoticeS: s.NoticeS},
			})
		}
	}
	return out
}

// conflictEvent returns a conflict.* event, seen by the two parties.
func conflictEvent(typ string, c *dc.Conflict, a dc.Actor, now time.Time) pendingEvent {
	return pendingEvent{&dc.Event{
		Type: typ, Time: now, Actor: a,
		Subject:  &dc.Subject{Kind: dc.SubjectConflict, ID: c.ID},
		Audience: []string{c.Parties[0], c.Parties[1]},
	}, ConflictEventData{Conflict: c}}
}

func equalPtr[T comparable](a, b *T) bool {
	return a == b || (a != nil && b != nil && *a == *b)
}
