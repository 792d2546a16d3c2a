package mechanism

import (
	"context"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/geo"
)

// An Attachment is the work another interface to the same airspace (the
// ASTM F3548 DSS of package dss) does inside the write transaction of one
// request, so that its own records and the operation it stands for are
// decided in one order and committed together, or not at all.
//
// Check runs first, in the batch transaction, under the write lock, with
// everything committed before it and every earlier request of the batch
// in view; it may refuse (an *deconflict.Error), and must change nothing.
// Write runs after the operation's change (if any) was applied, in the
// same transaction; it makes the changes Check decided, and an error from
// it fails the whole batch.
type Attachment struct {
	Check func(ctx context.Context, tx dc.Tx) error
	Write func(ctx context.Context, tx dc.Tx, res *Result) error
	// ActivateDespiteConflicts lets the operation become active while it
	// has open conflicts: the other interface has its own rule for when
	// an operation may start (F3548's keys), and the conflicts stay open,
	// notified and escalated like any other.
	ActivateDespiteConflicts bool
	// Volumes, if set, are the declaration's volumes as geo.ParseVolumes
	// parses them, one for each of its Volumes, in order: the other
	// interface parsed and checked them already, against rules of its
	// own at least as strict, and DeclareAttached does not parse them
	// again.
	Volumes []geo.Volume
}

// A Companion keeps state of its own in memory beside the mechanism's,
// changed only by Attachments. The writer tells it when an attempt of a
// batch transaction that carries attachments begins (so that it drops
// what a failed attempt changed) and when the batch has committed or
// failed.
type Companion interface {
	BeginAttempt()
	EndBatch(committed bool)
}

// SetCompanion registers the companion of the mechanism's attachments.
// It is called once, before any attached write.
func (at Attachments) SetCompanion(c Companion) { at.m.writer.companion = c }

// DeclareAttached is Declare for operation id of the actor's party with
// an attachment: the replacement needs no If-Match (the other interface
// keeps its own versions), an active operation declared planned stays
// active, and att runs in the same transaction.
func (at Attachments) DeclareAttached(ctx context.Context, a dc.Actor, id string, d Declaration, att *Attachment) (*Result, error) {
	m := at.m
	if !a.Is(dc.RoleOperator) || a.Party == "" {
		return nil, dc.Errorf(dc.EPermission, "only an operator may declare operations")
	}
	if !dc.ValidID(id) {
		return nil, dc.FieldErrorf(dc.EInvalid, "id", "operation id %q is not a UUID", id)
	}
	vols, err := d.validateParsed(att.Volumes)
	if err != nil {
		return nil, err
	}
	geom := geo.EncodeVolumes(vols)
	ahead := m.writer.searchAhead(vols, a.Party)
	return at.writeAttached(ctx, a, id, att, func(tx dc.Tx, cur *dc.Operation) (*change, error) {
		var ifMatch *int
		dd := d
		if cur != nil {
			v := cur.Version
			ifMatch = &v
			if cur.State == dc.StateActive && dd.State == dc.StatePlanned {
				// F3548 lets an intent go back from Activated to
				// Accepted; the mechanism's lifecycle does not, and the
				// operation stays active.
				dd.State = dc.StateActive
			}
		}
		ch, err := planDeclaration(a, id, &dd, vols, cur, ifMatch, m.Now())
		if ch != nil {
			ch.geom, ch.ahead, ch.forceActive = geom, ahead, att.ActivateDespiteConflicts
		}
		return ch, err
	})
}

// CancelAttached is Cancel of operation id with an attachment; an
// operation already cancelled or missing is no error (the attachment
// decides what the request means).
func (at Attachments) CancelAttached(ctx context.Context, a dc.Actor, id string, att *Attachment) (*Result, error) {
	m := at.m
	if !a.Is(dc.RoleOperator) || a.Party == "" {
		return nil, dc.Errorf(dc.EPermission, "only an operator may cancel operations")
	}
	return at.writeAttached(ctx, a, id, att, func(tx dc.Tx, cur *dc.Operation) (*change, error) {
		if cur == nil || !cur.State.Live() {
			return nil, nil
		}
		if cur.Party != a.Party {
			return nil, dc.Errorf(dc.EPermission, "operation %s belongs to party %s", id, cur.Party)
		}
		next := *cur
		next.State = dc.StateCancelled
		next.Version++
		next.UpdatedAt = m.Now()
		return &change{op: &next, prev: cur}, nil
	})
}

// WriteAttached runs an attachment that changes no operation in the
// mechanism's write order.
func (at Attachments) WriteAttached(ctx context.Context, a dc.Actor, att *Attachment) error {
	_, err := at.writeAttached(ctx, a, "", att, nil)
	return err
}

func (at Attachments) writeAttached(ctx context.Context, a dc.Actor, id string, att *Attachment, plan planFunc) (*Result, error) {
	m := at.m
	if m.writer.companion == nil {
		return nil, dc.Errorf(dc.EInternal, "attached write without a companion")
	}
	req := &writeRequest{actor: a, id: id, plan: plan, att: att, done: make(chan struct{})}
	return m.writer.enqueue(ctx, req)
}

// runAttached runs a request with an attachment inside the batch
// transaction: its check, then its operation's change if it has one,
// then its writes. Refusals land in req.err and write nothing.
func (m *Mechanism) runAttached(ctx context.Context, tx dc.Tx, b *batchState, req *writeRequest) error {
	att := req.att
	if att.Check != nil {
		if err := att.Check(ctx, tx); err != nil {
			return refuse(req, err)
		}
	}
	var res *Result
	if req.plan != nil {
		if err := m.runPlanned(ctx, tx, b, req); err != nil || req.err != nil {
			return err
		}
		res = req.res
	}
	if att.Write != nil {
		if err := att.Write(ctx, tx, res); err != nil {
			return writeFailed(err)
		}
	}
	if req.res == nil {
		req.res = &Result{}
	}
	return nil
}

// Intersecting returns the live operations whose volumes intersect vols
// in 4D, without separation minima, as committed: what another interface
// to the airspace shows of it.
func (at Attachments) Intersecting(vols []geo.Volume) []geo.Hit {
	m := at.m
	return m.writer.index.Load().Conflicts(vols, geo.Minima{}, "")
}

// SetNoReceipts names the parties that answer through another interface
// and give no receipts: the USSs of the F3548 DSS, whose standard has no
// acknowledgement. They owe none (of operations, conflicts or hotline
// messages), so nothing escalates for their silence; and the versions of
// their operations are owed none, as drone traffic would drown the duty
// officers: the other parties see those operations on the stream and in
// their conflicts, which they still acknowledge. It is called once,
// before serving.
func (at Attachments) SetNoReceipts(f func(party string) bool) { at.m.noReceipts = f }

// givesReceipts reports whether a party gives receipts.
func (m *Mechanism) givesReceipts(party string) bool {
	return m.noReceipts == nil || !m.noReceipts(party)
}

// receipting returns the parties that give receipts.
func (m *Mechanism) receipting(parties []*dc.Party) []*dc.Party {
	if m.noReceipts == nil {
		return parties
	}
	out := make([]*dc.Party, 0, len(parties))
	for _, p := range parties {
		if m.givesReceipts(p.ID) {
			out = append(out, p)
		}
	}
	return out
}

// Attachments is the part of the mechanism that another interface to the
// airspace (the F3548 DSS) writes through: operation writes that carry an
// attachment run in the mechanism's own write order, and the committed
// index it can query. It is a view over the same Mechanism, kept as its own
// type so that surface can be read alone.
type Attachments struct{ m *Mechanism }

// Attachments returns the attachment view of m.
func (m *Mechanism) Attachments() Attachments { return Attachments{m: m} }
