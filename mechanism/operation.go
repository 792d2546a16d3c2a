package mechanism

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/geo"
)

// Declaration is what an operator sends to create or replace an
// operation (the body of PUT /v1/operations/{id}).
type Declaration struct {
	Volumes       []dc.Volume4D `json:"volumes"`
	State         dc.State      `json:"state,omitempty"`
	Priority      int           `json:"priority"`
	Callsign      *string       `json:"callsign"`
	ShareCallsign bool          `json:"share_callsign"`
	Notes         *string       `json:"notes"`
}

// Result is an operation with the conflicts its caller may see.
type Result struct {
	Operation *dc.Operation
	Conflicts []*dc.Conflict
	// Created is true when the request created the operation.
	Created bool
}

// validate checks the declaration's fields and parses its volumes.
func (d *Declaration) validate() ([]geo.Volume, error) { return d.validateParsed(nil) }

// validateParsed is validate, given the volumes as geo.ParseVolumes
// parses them (one for each of d.Volumes, in order), or nil to parse them
// here.
func (d *Declaration) validateParsed(parsed []geo.Volume) ([]geo.Volume, error) {
	if d.State != "" && !d.State.Valid() {
		return nil, dc.FieldErrorf(dc.EInvalid, "state", "unknown state %q (want planned, active, ended or cancelled)", d.State)
	}
	if d.Callsign != nil && utf8.RuneCountInString(*d.Callsign) > dc.MaxCallsignLen {
		return nil, dc.FieldErrorf(dc.EInvalid, "callsign", "callsign is longer than %d characters", dc.MaxCallsignLen)
	}
	if d.Notes != nil && len(*d.Notes) > dc.MaxNotesLen {
		return nil, dc.FieldErrorf(dc.EInvalid, "notes", "notes are longer than %d bytes", dc.MaxNotesLen)
	}
	vols := parsed
	if vols == nil || len(vols) != len(d.Volumes) {
		var err error
		if vols, err = geo.ParseVolumes(d.Volumes, "volumes"); err != nil {
			return nil, err
		}
	}
	d.Volumes = CanonicalVolumes(d.Volumes, vols)
	return vols, nil
}

// CanonicalVolumes returns the volumes in, parsed as vols, with their
// times in UTC: the form in which they are stored and compared, by the
// mechanism and by the other interfaces (the DSS) that store volumes.
func CanonicalVolumes(in []dc.Volume4D, vols []geo.Volume) []dc.Volume4D {
	out := make([]dc.Volume4D, len(in))
	for i, v := range in {
		v.TimeStart = &dc.Time{Value: vols[i].Start.UTC().Format(time.RFC3339Nano), Format: "RFC3339"}
		v.TimeEnd = &dc.Time{Value: vols[i].End.UTC().Format(time.RFC3339Nano), Format: "RFC3339"}
		out[i] = v
	}
	return out
}

// span returns the earliest start and the latest end of vols, and the
// index of the volume that ends last.
func span(vols []geo.Volume) (start, end time.Time, last int) {
	for i, v := range vols {
		if i == 0 || v.Start.Before(start) {
			start = v.Start
		}
		if i == 0 || v.End.After(end) {
			end, last = v.End, i
		}
	}
	return start, end, last
}

// sameVolumes reports whether two canonical volume lists are the same.
func sameVolumes(a, b []dc.Volume4D) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// sameContent reports whether op already is what d declares.
func sameContent(op *dc.Operation, d *Declaration) bool {
	return op.State == d.State && op.Priority == d.Priority && op.ShareCallsign == d.ShareCallsign &&
		equalPtr(op.Callsign, d.Callsign) && equalPtr(op.Notes, d.Notes) &&
		sameVolumes(op.Volumes, d.Volumes)
}

// Declare creates or replaces operation id for the actor's party.
// ifMatch is the version named by If-Match, or nil.
func (m *Mechanism) Declare(ctx context.Context, a dc.Actor, id string, d Declaration, ifMatch *int) (*Result, error) {
	return m.declare(ctx, a, id, d, ifMatch, nil, false)
}

// declare is Declare; a test's between runs after the conflict search
// ahead of the write lock, before the write. here: write it in this
// process, never handing it to the writer replica (forward.go).
func (m *Mechanism) declare(ctx context.Context, a dc.Actor, id string, d Declaration, ifMatch *int, between func(), here bool) (*Result, error) {
	if !a.Is(dc.RoleOperator) || a.Party == "" {
		return nil, dc.Errorf(dc.EPermission, "only an operator may declare operations")
	}
	if err := m.authorHere(a); err != nil {
		return nil, err
	}
	if !dc.ValidID(id) {
		return nil, dc.FieldErrorf(dc.EInvalid, "id", "operation id %q is not a UUID (such as 5f0c1e9a-3b7d-4c2e-9a41-0d6b8e2f7c13)", id)
	}
	if !here && m.writer.forwarding() {
		// The writer replica validates it, as it would its own.
		return m.writer.forwardDeclaration(ctx, Forwarded{Actor: a, ID: id, Declaration: d, IfMatch: ifMatch},
			func() (*Result, error) { return m.declare(ctx, a, id, d, ifMatch, nil, true) })
	}
	vols, err := d.validate()
	if err != nil {
		return nil, err
	}
	// Before the write lock: the compact geometry, and the conflict
	// search.
	geom := geo.EncodeVolumes(vols)
	ahead := m.writer.searchAhead(vols, a.Party)
	if between != nil {
		between()
	}
	return m.writer.write(ctx, a, id, func(tx dc.Tx, cur *dc.Operation) (*change, error) {
		if cur != nil && cur.Party != a.Party {
			if _, remote := m.Federation().RemoteParty(cur.Party); remote {
				// IDs are global on a node: one a peer's party holds
				// here cannot be this party's too.
				return nil, dc.Errorf(dc.EPermission, "operation %s belongs to party %s, hosted by another node; declare yours under another ID", id, cur.Party)
			}
		}
		ch, err := planDeclaration(a, id, &d, vols, cur, ifMatch, m.Now())
		if ch != nil {
			ch.geom, ch.ahead = geom, ahead
		}
		return ch, err
	})
}

// Cancel cancels operation id (DELETE /v1/operations/{id}).
func (m *Mechanism) Cancel(ctx context.Context, a dc.Actor, id string, ifMatch *int) (*Result, error) {
	if !a.Is(dc.RoleOperator) || a.Party == "" {
		return nil, dc.Errorf(dc.EPermission, "only an operator may cancel operations")
	}
	if err := m.authorHere(a); err != nil {
		return nil, err
	}
	return m.writer.write(ctx, a, id, func(tx dc.Tx, cur *dc.Operation) (*change, error) {
		return planCancel(a, id, cur, ifMatch, m.Now())
	})
}

// planCancel decides what cancelling operation id (cur, nil if it does
// not exist) changes, or why it may not.
func planCancel(a dc.Actor, id string, cur *dc.Operation, ifMatch *int, now time.Time) (*change, error) {
	if cur == nil {
		return nil, dc.Errorf(dc.ENotFound, "no operation %s", id)
	}
	if cur.Party != a.Party {
		return nil, dc.Errorf(dc.EPermission, "operation %s belongs to party %s", id, cur.Party)
	}
	if cur.State == dc.StateCancelled {
		return nil, nil // a repeated cancel answers the operation as it stands
	}
	if ifMatch != nil && *ifMatch != cur.Version {
		return nil, versionMismatch(cur)
	}
	if !cur.State.CanBecome(dc.StateCancelled) {
		return nil, dc.Errorf(dc.EInvalidTransition, "operation %s is %s and cannot be cancelled", id, cur.State)
	}
	next := *cur
	next.State = dc.StateCancelled
	next.Version++ // a cancellation is a change like any other
	next.UpdatedAt = now
	return &change{op: &next, prev: cur}, nil
}

func versionMismatch(cur *dc.Operation) error {
	return dc.Errorf(dc.EVersionMismatch, "If-Match does not match the current version %d", cur.Version)
}

// planDeclaration decides what declaration d (of volumes vols, parsed)
// by actor a changes to operation id (cur, nil if it does not exist) at
// time now, or why it may not. A state left out is filled in d.
func planDeclaration(a dc.Actor, id string, d *Declaration, vols []geo.Volume, cur *dc.Operation, ifMatch *int, now time.Time) (*change, error) {
	start, end, last := span(vols)
	future := func() error {
		if !end.After(now) {
			return dc.FieldErrorf(dc.EInvalid, fmt.Sprintf("volumes[%d].time_end.value", last),
				"the operation's latest time_end (%s) is not in the future", end.Format(time.RFC3339))
		}
		return nil
	}
	if d.State == "" { // left out: a new operation is planned, a replaced one keeps its state
		d.State = dc.StatePlanned
		if cur != nil {
			d.State = cur.State
		}
	}
	if cur == nil {
		if ifMatch != nil {
			return nil, dc.Errorf(dc.EVersionMismatch, "operation %s does not exist; If-Match %d cannot match", id, *ifMatch)
		}
		if d.State != dc.StatePlanned && d.State != dc.StateActive {
			return nil, dc.FieldErrorf(dc.EInvalid, "state", "an operation is created planned or active, not %s", d.State)
		}
		if err := future(); err != nil {
			return nil, err
		}
		op := &dc.Operation{
			ID: id, Party: a.Party, Version: 1, State: d.State, Priority: d.Priority,
			Callsign: d.Callsign, ShareCallsign: d.ShareCallsign, Notes: d.Notes, Volumes: d.Volumes,
			CreatedAt: now, UpdatedAt: now, Start: start, End: end,
		}
		return &change{op: op, vols: vols, volumesChanged: true}, nil
	}
	if cur.Party != a.Party {
		return nil, dc.Errorf(dc.EPermission, "operation %s belongs to party %s", id, cur.Party)
	}
	retry := (ifMatch == nil && cur.Version == 1) || (ifMatch != nil && (*ifMatch == cur.Version || *ifMatch == cur.Version-1))
	if retry && sameContent(cur, d) {
		return nil, nil // a retried request answers the operation as it stands
	}
	if ifMatch == nil {
		return nil, dc.Errorf(dc.EPrecondition, "operation %s exists; replacing it needs If-Match with its version (%d)", id, cur.Version)
	}
	if *ifMatch != cur.Version {
		return nil, versionMismatch(cur)
	}
	if !cur.State.CanBecome(d.State) {
		return nil, dc.Errorf(dc.EInvalidTransition, "operation %s cannot go from %s to %s", id, cur.State, d.State)
	}
	next := *cur
	next.Version++
	next.State, next.Priority, next.Callsign = d.State, d.Priority, d.Callsign
	next.ShareCallsign, next.Notes, next.UpdatedAt = d.ShareCallsign, d.Notes, now
	c := &change{op: &next, prev: cur, vols: vols}
	if !sameVolumes(cur.Volumes, d.Volumes) {
		if err := future(); err != nil {
			return nil, err
		}
		next.Volumes, next.Start, next.End = d.Volumes, start, end
		c.volumesChanged = true
	}
	return c, nil
}
