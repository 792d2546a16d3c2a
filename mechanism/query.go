package mechanism

import (
	"context"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/geo"
)

// visibleConflicts keeps the conflicts the actor may see.
func visibleConflicts(a dc.Actor, cs []*dc.Conflict) []*dc.Conflict {
	out := []*dc.Conflict{}
	for _, c := range cs {
		if a.SeesAll() || c.Involves(a.Party) {
			out = append(out, c)
		}
	}
	return out
}

// Operation returns an operation and its open conflicts as the actor may
// see them. Every party sees every operation, without the private fields
// of others.
func (m *Mechanism) Operation(ctx context.Context, a dc.Actor, id string) (*Result, error) {
	var res Result
	err := m.store.View(ctx, func(tx dc.Tx) error {
		op, err := tx.Operation(ctx, id)
		if err != nil {
			return err
		}
		cs, err := openConflicts(ctx, tx, id)
		if err != nil {
			return err
		}
		res = Result{Operation: op.ViewFor(a), Conflicts: visibleConflicts(a, cs)}
		return nil
	})
	if dc.ErrorCode(err) == dc.ENotFound {
		return nil, dc.Errorf(dc.ENotFound, "no operation %s", id)
	}
	return &res, err
}

// OperationQuery selects operations to list (GET /v1/operations).
type OperationQuery struct {
	Party      string
	States     []dc.State
	Start, End time.Time
	// BBox, if not nil, keeps operations whose footprint meets it.
	BBox  *BBox
	Limit int
	After string
	// MaxBytes, if positive, ends the page early once it passes that
	// size (dc.OperationFilter.MaxBytes).
	MaxBytes int
}

// Operations lists operations as the actor may see them, and the cursor
// of the next page ("" after the last).
func (m *Mechanism) Operations(ctx context.Context, a dc.Actor, q OperationQuery) ([]*dc.Operation, string, error) {
	f := dc.OperationFilter{Party: q.Party, States: q.States, Start: q.Start, End: q.End, Limit: q.Limit, After: q.After, MaxBytes: q.MaxBytes}
	if len(f.States) == 0 {
		f.States = []dc.State{dc.StatePlanned, dc.StateActive}
	}
	if q.BBox != nil {
		box := q.BBox.rect()
		f.Match = func(op *dc.Operation) bool {
			vols, err := geo.ParseQueryVolumesContext(ctx, op.Volumes, "volumes")
			if err != nil {
				return false
			}
			for _, v := range vols {
				if v.Footprint.IntersectsRect(box) {
					return true
				}
			}
			return false
		}
	}
	candidates, since, narrowed := m.boxCandidates(q.BBox, f.States, q.Start, q.End)
	var ops []*dc.Operation
	var next string
	err := m.store.View(ctx, func(tx dc.Tx) (err error) {
		if narrowed {
			f.IDs = candidates
			err := tx.OperationsSince(ctx, since, false, func(op *dc.Operation) error {
				f.IDs = append(f.IDs, op.ID) // changed since the index looked
				return nil
			})
			if err != nil {
				return err
			}
		}
		ops, next, err = tx.Operations(ctx, f)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	for i, op := range ops {
		ops[i] = op.ViewFor(a)
	}
	return ops, next, nil
}

// Conflict returns a conflict the actor may see.
func (m *Mechanism) Conflict(ctx context.Context, a dc.Actor, id string) (*dc.Conflict, error) {
	var c *dc.Conflict
	err := m.store.View(ctx, func(tx dc.Tx) (err error) {
		c, err = tx.Conflict(ctx, id)
		return err
	})
	if dc.ErrorCode(err) == dc.ENotFound || (err == nil && !a.SeesAll() && !c.Involves(a.Party)) {
		return nil, dc.Errorf(dc.ENotFound, "no conflict %s", id)
	}
	return c, err
}

// Conflicts lists the conflicts of the actor's party (all of them for
// observers and admins).
func (m *Mechanism) Conflicts(ctx context.Context, a dc.Actor, f dc.ConflictFilter) ([]*dc.Conflict, string, error) {
	f.Party = ""
	if !a.SeesAll() {
		f.Party = a.Party
	}
	var cs []*dc.Conflict
	var next string
	err := m.store.View(ctx, func(tx dc.Tx) (err error) {
		cs, next, err = tx.Conflicts(ctx, f)
		return err
	})
	return cs, next, err
}
