package mechanism

import (
	"context"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/geo"
)

// Hit is one live operation that volumes under a what-if check would
// conflict with.
type Hit struct {
	Operation  *dc.Operation `json:"operation"`
	Separation dc.Separation `json:"separation"`
}

// EncodedHit is a Hit with its operation already encoded as JSON, as the
// caller may see it: what CheckEncoded answers.
type EncodedHit struct {
	ID string
	// Operation is the operation's JSON (as encoding/json writes a
	// dc.Operation, without HTML escaping); nil if only IDs were asked.
	Operation  []byte
	Separation dc.Separation
}

// CheckOptions change what CheckEncoded answers.
type CheckOptions struct {
	// IDsOnly leaves EncodedHit.Operation nil: the operations are not
	// looked up at all.
	IDsOnly bool
}

// Check answers which live operations of other parties the volumes would
// conflict with. Nothing is stored or sent.
func (m *Mechanism) Check(ctx context.Context, a dc.Actor, volumes []dc.Volume4D) ([]Hit, error) {
	hits, err := m.search(ctx, a, volumes)
	if err != nil || len(hits) == 0 {
		return []Hit{}, err
	}
	out := make([]Hit, 0, len(hits))
	err = m.store.View(ctx, func(tx dc.Tx) error {
		for _, h := range hits {
			op, err := tx.Operation(ctx, h.ID)
			if dc.ErrorCode(err) == dc.ENotFound {
				continue // changed since the index saw it
			} else if err != nil {
				return err
			}
			if !op.State.Live() {
				continue // ended or cancelled since the index saw it
			}
			out = append(out, Hit{Operation: op.ViewFor(a), Separation: h.Separation})
		}
		return nil
	})
	return out, err
}

// CheckEncoded answers what Check answers, with each operation encoded.
// The encoded views of live operations are kept in memory (see viewCache),
// so a check whose operations were listed before reads nothing from the
// store.
func (m *Mechanism) CheckEncoded(ctx context.Context, a dc.Actor, volumes []dc.Volume4D, opts CheckOptions) ([]EncodedHit, error) {
	hits, err := m.search(ctx, a, volumes)
	if err != nil || len(hits) == 0 {
		return []EncodedHit{}, err
	}
	out := make([]EncodedHit, len(hits))
	var missing []int // positions in out whose view is not kept
	for i, h := range hits {
		out[i] = EncodedHit{ID: h.ID, Separation: h.Separation}
		if opts.IDsOnly {
			continue
		}
		if v, ok := m.writer.views.get(h.ID); ok && v.party != a.Party {
			out[i].Operation = v.json
		} else {
			missing = append(missing, i)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	epochs := make([]uint64, len(missing))
	for k, i := range missing {
		epochs[k] = m.writer.views.epoch(out[i].ID)
	}
	gone := false
	err = m.store.View(ctx, func(tx dc.Tx) error {
		for k, i := range missing {
			op, err := tx.Operation(ctx, out[i].ID)
			if dc.ErrorCode(err) == dc.ENotFound || (err == nil && !op.State.Live()) {
				gone = true // changed since the index saw it
				continue
			} else if err != nil {
				return err
			}
			b, err := encodeOperation(op.ViewFor(a))
			if err != nil {
				return err
			}
			out[i].Operation = b
			if op.Party != a.Party { // the shared view, the same for every other party
				m.writer.views.put(op.ID, &sharedView{party: op.Party, json: b}, epochs[k])
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if gone {
		kept := out[:0]
		for _, h := range out {
			if h.Operation != nil {
				kept = append(kept, h)
			}
		}
		out = kept
	}
	return out, nil
}

// search parses the volumes and searches the index with the settings in
// force (agreed with the peers', agreement.go), for the live operations
// of parties other than the actor's.
func (m *Mechanism) search(ctx context.Context, a dc.Actor, volumes []dc.Volume4D) ([]geo.Hit, error) {
	vols, err := geo.ParseQueryVolumesContext(ctx, volumes, "volumes")
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
	pm := m.writer.agreementFor(s).forParty(a.Party)
	return m.writer.index.Load().ConflictsContextPairs(ctx, vols, pm, a.Party)
}

// checkSettings returns the settings a what-if check applies: those the
// last write or check read, if fresh (see settingsTTL), else read now.
func (m *Mechanism) checkSettings(ctx context.Context) (dc.Settings, error) {
	s, epoch, ok := m.checkSet.get()
	if ok {
		return s, nil
	}
	s, err := m.Settings().Get(ctx)
	if err != nil {
		return s, err
	}
	m.checkSet.put(s, epoch)
	return s, nil
}

// ViewCacheStats returns how often a what-if check found an operation's
// view in memory and how often it read it from the store.
func (h Health) ViewCacheStats() (hits, misses uint64) {
	m := h.m
	return m.writer.views.hits.Load(), m.writer.views.misses.Load()
}
