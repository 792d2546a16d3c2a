package dss

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/geo"
	"github.com/deconflict/deconflict/mechanism"
)

// The /v1 operations are constraint references to USSs (v1ops.go), and a
// change of a constraint advances the notification index of every
// subscription that asks for constraints and intersects it, old extents
// or new. A /v1 write does not pass through the DSS, so the DSS follows
// the mechanism's events: for each change of a /v1 operation it advances
// those indices, in one attached write per page of events, with the
// event number it reached (kindCursor) and the operation's last volumes
// (kindV1Op, for the old extents of its next change) written in the same
// transaction. The cursor is read under the write lock, so of several
// processes on one store each event is applied once. The index tells a
// subscriber a change happened that it was not told of: the DSS sends no
// notification itself.

const (
	kindCursor = "cursor"
	kindV1Op   = "v1op"
	cursorV1   = "v1ops"
)

// v1op is what the DSS keeps of a live /v1 operation: its volumes as of
// its last change.
type v1op struct {
	Extents []dc.Volume4D `json:"extents"`
	End     time.Time     `json:"end"`
	vols    []geo.Volume
}

// cursor is how far the DSS has applied the mechanism's events.
type cursor struct {
	Seq int64 `json:"seq"`
}

// admin reads every event.
var admin = dc.Actor{Role: dc.RoleAdmin}

// eventPage bounds the events applied in one write; cursorEvery is how
// many events without a /v1 change the cursor may lag.
const eventPage = 500

var cursorEvery int64 = 10000 // a variable for tests

// FollowOperations applies the changes of /v1 operations to the
// subscriptions' notification indices until ctx ends: after every change
// of the mechanism, and every interval (for changes other processes
// made).
func (d *DSS) FollowOperations(ctx context.Context, interval time.Duration) {
	for {
		changed := d.m.Changed()
		for {
			more, err := d.followOnce(ctx)
			if err != nil {
				if ctx.Err() == nil {
					d.log.Error("dss: follow /v1 operations", slog.Any("error", err))
				}
				break
			}
			if !more {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
			// Let a burst of writes (USSs' intents, mostly) pass before
			// reading their events, in one read rather than one each.
			select {
			case <-ctx.Done():
				return
			case <-time.After(followDelay):
			}
		case <-time.After(interval):
		}
	}
}

// followDelay is how long the follower lets changes gather before it
// reads their events.
const followDelay = 100 * time.Millisecond

// followOnce applies one page of events, if there are any after what was
// applied, and reports whether there may be more.
func (d *DSS) followOnce(ctx context.Context) (bool, error) {
	d.st.mu.RLock()
	cur := d.st.v1Cursor
	d.st.mu.RUnlock()
	from := max(cur, d.scanned.Load())
	evs, err := d.m.Events(ctx, admin, from, eventPage)
	if err != nil || len(evs) == 0 {
		return false, err
	}
	last := evs[len(evs)-1].Seq
	relevant := false
	for _, e := range evs {
		relevant = relevant || isV1Change(e)
	}
	// Without a /v1 change, the cursor is written only now and then, so
	// that a restart does not read every event since the last change.
	if !relevant && last-cur < cursorEvery {
		d.scanned.Store(last)
		return len(evs) == eventPage, nil
	}
	write := func(ctx context.Context, tx dc.Tx) error {
		now := d.now().UTC()
		for _, e := range evs {
			if e.Seq <= d.st.v1Cursor || !isV1Change(e) {
				continue
			}
			if err := d.applyV1Change(ctx, tx, e, now); err != nil {
				return err
			}
		}
		if last > d.st.v1Cursor {
			return d.st.setCursor(ctx, tx, last)
		}
		return nil
	}
	if err := d.m.Attachments().WriteAttached(ctx, admin, d.attachment(nil, write)); err != nil {
		return false, err
	}
	d.scanned.Store(last)
	return len(evs) == eventPage, nil
}

// isV1Change reports whether an event changed a /v1 operation.
func isV1Change(e *dc.Event) bool {
	switch e.Type {
	case dc.EventOperationDeclared, dc.EventOperationUpdated, dc.EventOperationActivated,
		dc.EventOperationEnded, dc.EventOperationCancelled:
		return e.Subject != nil && !IsUSSParty(e.Actor.Party)
	}
	return false
}

// applyV1Change advances the indices of the constraint subscriptions
// that the operation's old or new volumes intersect, and keeps its new
// volumes. Called by the writer with st.mu held.
func (d *DSS) applyV1Change(ctx context.Context, tx dc.Tx, e *dc.Event, now time.Time) error {
	var body mechanism.OperationEventData
	if err := json.Unmarshal(e.Data, &body); err != nil || body.Operation == nil {
		return fmt.Errorf("dss: event %d: no operation in its body", e.Seq)
	}
	op := body.Operation
	if !isV1(op) {
		return nil
	}
	vols, err := geo.ParseVolumes(op.Volumes, "volumes")
	if err != nil {
		return fmt.Errorf("dss: event %d: %w", e.Seq, err)
	}
	touched := vols
	prev := d.st.v1ops[op.ID]
	if prev != nil {
		touched = append(append([]geo.Volume(nil), prev.vols...), vols...)
	}
	if _, err := d.notify(ctx, tx, touched, now, true); err != nil {
		return err
	}
	_, end := span(vols)
	if op.State.Live() && end.After(now) {
		return d.st.setV1Op(ctx, tx, op.ID, &v1op{Extents: op.Volumes, End: end, vols: vols})
	}
	if prev != nil {
		return d.st.setV1Op(ctx, tx, op.ID, nil)
	}
	return nil
}
