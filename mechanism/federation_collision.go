package mechanism

import (
	"context"
	"fmt"
	"sort"
	"strings"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/geo"
)

// Operation IDs are chosen by clients and are global on a node, so a
// peer's operation whose ID another party already holds here (an ID
// collision: a hostile node that copied another's ID, or one reusing an
// ID of this node's) cannot be applied. The node refuses it with an
// IDCollision; the federation node alerts it, with what the refused
// version would conflict with among this node's own operations
// (CheckRefused), and tracks it (SetRefused): until it ends, activating
// an operation of this node that it would conflict with needs a head's
// recorded override, as while a peer is stale.

// MaxListed is how many operations a message about operations refused
// for an ID collision names (ListSome); the rest are counted, so that a
// message stays short whatever their number.
const MaxListed = 20

// ListSome joins the first MaxListed of names with ", " and counts the
// rest: "a, b, … and 130 more".
func ListSome(names []string) string {
	if len(names) <= MaxListed {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:MaxListed], ", "), len(names)-MaxListed)
}

// IDCollision is the refusal of a peer's operation whose ID another
// party holds on this node. It wraps a *dc.Error (EForbidden).
type IDCollision struct {
	// Operation is the refused version, as received.
	Operation *dc.Operation
	// Holder is the party that holds the ID here.
	Holder string
	err    *dc.Error
}

func (e *IDCollision) Error() string { return e.err.Error() }

// Unwrap returns the *dc.Error of the refusal.
func (e *IDCollision) Unwrap() error { return e.err }

// newIDCollision returns the refusal of op, whose ID holder holds here.
func newIDCollision(op *dc.Operation, holder string) *IDCollision {
	return &IDCollision{Operation: op, Holder: holder,
		err: dc.Errorf(dc.EForbidden, "operation %s belongs to party %s here", op.ID, holder)}
}

// CheckRefused returns the live operations of this node's own parties
// that a refused peer operation op would conflict with: the exact check
// of its volumes, state and times, under the agreed minima of each pair,
// as its declaration here would have made it. An operation that is not
// live conflicts with none.
func (f Federation) CheckRefused(ctx context.Context, op *dc.Operation) ([]geo.Hit, error) {
	m := f.m
	if !op.State.Live() {
		return nil, nil
	}
	vols, err := geo.ParseVolumesContext(ctx, op.Volumes, "volumes")
	if err != nil {
		return nil, err
	}
	s, err := m.checkSettings(ctx)
	if err != nil {
		return nil, err
	}
	if err := m.writer.freshen(ctx); err != nil {
		return nil, err
	}
	pm := m.writer.agreementFor(s).forParty(op.Party)
	hits, err := m.writer.index.Load().ConflictsContextPairs(ctx, vols, pm, op.Party)
	if err != nil {
		return nil, err
	}
	local := hits[:0]
	for _, h := range hits {
		if _, remote := f.RemoteParty(h.Group); !remote {
			local = append(local, h)
		}
	}
	return local, nil
}

// Refused is what a node tracks of the peers' operations it refused for
// an ID collision.
type Refused struct {
	// Operations are their latest versions, as received.
	Operations []*dc.Operation
	// Untracked counts the peers with more refused operations than a
	// node tracks: while one does, every activation needs an override.
	Untracked int
}

// refusedOp is a refused operation with its parsed volumes.
type refusedOp struct {
	op   *dc.Operation
	vols []geo.Volume
}

// refusedSet is what activations check (checkBlindSpots).
type refusedSet struct {
	ops       []refusedOp
	untracked int
}

// SetRefused tells the mechanism the peers' operations it refused for an
// ID collision, live ones only. The federation node calls it whenever
// they change.
func (f Federation) SetRefused(r Refused) {
	m := f.m
	prev := map[*dc.Operation][]geo.Volume{}
	if cur := m.fed.refused.Load(); cur != nil {
		for _, o := range cur.ops {
			prev[o.op] = o.vols
		}
	}
	set := &refusedSet{untracked: r.Untracked}
	for _, op := range r.Operations {
		if op == nil || !op.State.Live() {
			continue
		}
		vols, ok := prev[op]
		if !ok {
			var err error
			if vols, err = geo.ParseVolumes(op.Volumes, "volumes"); err != nil {
				continue // never refused for a collision: it did not parse
			}
		}
		set.ops = append(set.ops, refusedOp{op: op, vols: vols})
	}
	if len(set.ops) == 0 && set.untracked == 0 {
		set = nil
	}
	m.fed.refused.Store(set)
}

// checkBlindSpots refuses the activation of op (of volumes vols), or a
// change of the volumes of an active op, while this node cannot see all
// of its peers' airspace that op could meet — op could meet the airspace
// of a stale peer (staleReach), or a refused peer operation would
// conflict with op — unless a head of its party recorded an override
// for it.
func (m *Mechanism) checkBlindSpots(ctx context.Context, tx dc.Tx, op *dc.Operation, vols []geo.Volume, b *batchState) error {
	why, err := m.staleReach(ctx, tx, op, vols, b.settings)
	if err != nil {
		return err
	}
	if rs := m.fed.refused.Load(); why == "" && rs != nil {
		if rs.untracked > 0 {
			why = fmt.Sprintf("%d peer node(s) have more operations this node refused for an ID collision than it tracks: the operation may conflict with them", rs.untracked)
		} else if hit, err := refusedHits(rs, op, vols, b.agreed); err != nil {
			return err
		} else if len(hit) > 0 {
			why = fmt.Sprintf("the operation would conflict with %s, which this node could not apply because another party holds that ID here (an ID collision, see GET /v1/federation)",
				ListSome(hit))
		}
	}
	if why == "" {
		return nil
	}
	if ftx, ok := tx.(dc.FederationTx); ok {
		if _, err := ftx.Override(ctx, op.ID); err == nil {
			return nil
		} else if dc.ErrorCode(err) != dc.ENotFound {
			return err
		}
	}
	return dc.Errorf(dc.EPeerUnreachable,
		"%s; coordinate by voice, and have a head record it with POST /v1/operations/%s/override", why, op.ID)
}

// refusedHits names the refused operations op (of volumes vols, nil if
// not parsed yet) would conflict with.
func refusedHits(rs *refusedSet, op *dc.Operation, vols []geo.Volume, ag *agreement) ([]string, error) {
	if vols == nil {
		var err error
		if vols, err = geo.ParseVolumes(op.Volumes, "volumes"); err != nil {
			return nil, err
		}
	}
	var out []string
	for _, r := range rs.ops {
		if r.op.Party == op.Party {
			continue
		}
		if _, ok := geo.CompareOperations(vols, r.vols, ag.pair(op.Party, r.op.Party)); ok {
			out = append(out, fmt.Sprintf("operation %s of party %s", r.op.ID, r.op.Party))
		}
	}
	sort.Strings(out)
	return out, nil
}
