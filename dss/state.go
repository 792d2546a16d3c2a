package dss

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/geo"
)

// Kinds of records in the store (deconflict.DSSTx).
const (
	kindOIR          = "oir"
	kindConstraint   = "constraint"
	kindSubscription = "subscription"
	kindAvailability = "availability"
	kindReport       = "report"
)

// oir is an operational intent reference as the DSS keeps it.
type oir struct {
	ID             string        `json:"id"`
	Manager        string        `json:"manager"`
	Version        int32         `json:"version"`
	OVN            string        `json:"ovn"`
	State          string        `json:"state"`
	Extents        []dc.Volume4D `json:"extents"`
	USSBaseURL     string        `json:"uss_base_url"`
	SubscriptionID string        `json:"subscription_id,omitempty"`
	Start          time.Time     `json:"start"`
	End            time.Time     `json:"end"`
	vols           []geo.Volume
}

// constraint is a constraint reference as the DSS keeps it.
type constraint struct {
	ID         string        `json:"id"`
	Manager    string        `json:"manager"`
	Version    int32         `json:"version"`
	OVN        string        `json:"ovn"`
	Extents    []dc.Volume4D `json:"extents"`
	USSBaseURL string        `json:"uss_base_url"`
	Start      time.Time     `json:"start"`
	End        time.Time     `json:"end"`
	vols       []geo.Volume
}

// subscription is a subscription as the DSS keeps it. An implicit one
// was made for an operational intent and covers its dependents' extents.
type subscription struct {
	ID                string        `json:"id"`
	Manager           string        `json:"manager"`
	Version           string        `json:"version"`
	Extents           []dc.Volume4D `json:"extents"`
	USSBaseURL        string        `json:"uss_base_url"`
	NotifyForOIRs     bool          `json:"notify_for_operational_intents"`
	NotifyForCons     bool          `json:"notify_for_constraints"`
	Implicit          bool          `json:"implicit"`
	NotificationIndex int32         `json:"notification_index"`
	Start             time.Time     `json:"start"`
	End               time.Time     `json:"end"`
	vols              []geo.Volume
}

// availability is a USS's availability as arbitrated.
type availability struct {
	USS     string `json:"uss"`
	State   string `json:"state"`
	Version string `json:"version"`
}

// state is everything the DSS knows, in memory, with an index for each
// kind of volume. It changes only in the mechanism's write transactions
// (through attachments), and then only while the writer holds mu: readers
// take mu's read lock and never see a change before it committed.
type state struct {
	mu          sync.RWMutex
	oirs        map[string]*oir
	constraints map[string]*constraint
	subs        map[string]*subscription
	avail       map[string]*availability
	dependents  map[string]map[string]bool // subscription ID -> IDs of its OIRs
	oirIx       *geo.Index
	conIx       *geo.Index
	subIx       *geo.Index

	// Used by the writer only.
	locked bool
	undo   []func()
}

func newState() *state {
	return &state{
		oirs: map[string]*oir{}, constraints: map[string]*constraint{}, subs: map[string]*subscription{},
		avail: map[string]*availability{}, dependents: map[string]map[string]bool{},
		oirIx: geo.NewIndex(), conIx: geo.NewIndex(), subIx: geo.NewIndex(),
	}
}

// BeginAttempt takes the write lock for a batch, or, on a retry of the
// batch's transaction, undoes what the failed attempt changed.
func (s *state) BeginAttempt() {
	if !s.locked {
		s.mu.Lock()
		s.locked = true
		return
	}
	s.rollback()
}

// EndBatch keeps or undoes the batch's changes and lets readers in.
func (s *state) EndBatch(committed bool) {
	if !s.locked {
		return
	}
	if !committed {
		s.rollback()
	}
	s.undo = nil
	s.locked = false
	s.mu.Unlock()
}

func (s *state) rollback() {
	for i := len(s.undo) - 1; i >= 0; i-- {
		s.undo[i]()
	}
	s.undo = nil
}

// zero are minima of zero: the indexes then answer plain intersection
// in 4D, the relation F3548's keys are about.
var zero geo.Minima

func put(ctx context.Context, tx dc.Tx, kind, id string, v any) error {
	dtx, ok := tx.(dc.DSSTx)
	if !ok {
		return fmt.Errorf("the store does not keep DSS records")
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode dss %s %s: %w", kind, id, err)
	}
	return dtx.PutDSSRecord(ctx, kind, id, b)
}

func del(ctx context.Context, tx dc.Tx, kind, id string) error {
	dtx, ok := tx.(dc.DSSTx)
	if !ok {
		return fmt.Errorf("the store does not keep DSS records")
	}
	return dtx.DeleteDSSRecord(ctx, kind, id)
}

// setOIR stores o (nil: removes the OIR id) in tx and in memory, keeping
// the undo log. Called by the writer with mu held.
func (s *state) setOIR(ctx context.Context, tx dc.Tx, id string, o *oir) error {
	var err error
	if o == nil {
		err = del(ctx, tx, kindOIR, id)
	} else {
		err = put(ctx, tx, kindOIR, id, o)
	}
	if err != nil {
		return err
	}
	prev := s.oirs[id]
	s.applyOIR(id, o)
	s.undo = append(s.undo, func() { s.applyOIR(id, prev) })
	return nil
}

func (s *state) applyOIR(id string, o *oir) {
	if prev := s.oirs[id]; prev != nil && prev.SubscriptionID != "" {
		if d := s.dependents[prev.SubscriptionID]; d != nil {
			delete(d, id)
			if len(d) == 0 {
				delete(s.dependents, prev.SubscriptionID)
			}
		}
	}
	if o == nil {
		delete(s.oirs, id)
		s.oirIx.Remove(id)
		return
	}
	s.oirs[id] = o
	s.oirIx.Insert(id, o.Manager, o.vols)
	if o.SubscriptionID != "" {
		if s.dependents[o.SubscriptionID] == nil {
			s.dependents[o.SubscriptionID] = map[string]bool{}
		}
		s.dependents[o.SubscriptionID][id] = true
	}
}

// setConstraint is setOIR for constraints.
func (s *state) setConstraint(ctx context.Context, tx dc.Tx, id string, c *constraint) error {
	var err error
	if c == nil {
		err = del(ctx, tx, kindConstraint, id)
	} else {
		err = put(ctx, tx, kindConstraint, id, c)
	}
	if err != nil {
		return err
	}
	prev := s.constraints[id]
	s.applyConstraint(id, c)
	s.undo = append(s.undo, func() { s.applyConstraint(id, prev) })
	return nil
}

func (s *state) applyConstraint(id string, c *constraint) {
	if c == nil {
		delete(s.constraints, id)
		s.conIx.Remove(id)
		return
	}
	s.constraints[id] = c
	s.conIx.Insert(id, c.Manager, c.vols)
}

// setSub is setOIR for subscriptions.
func (s *state) setSub(ctx context.Context, tx dc.Tx, id string, sub *subscription) error {
	var err error
	if sub == nil {
		err = del(ctx, tx, kindSubscription, id)
	} else {
		err = put(ctx, tx, kindSubscription, id, sub)
	}
	if err != nil {
		return err
	}
	prev := s.subs[id]
	s.applySub(id, sub)
	s.undo = append(s.undo, func() { s.applySub(id, prev) })
	return nil
}

func (s *state) applySub(id string, sub *subscription) {
	if sub == nil {
		delete(s.subs, id)
		s.subIx.Remove(id)
		return
	}
	prev := s.subs[id]
	s.subs[id] = sub
	if prev == nil || !sameExtents(prev.Extents, sub.Extents) {
		s.subIx.Insert(id, sub.Manager, sub.vols)
	}
}

// setAvailability is setOIR for availabilities.
func (s *state) setAvailability(ctx context.Context, tx dc.Tx, a *availability) error {
	if err := put(ctx, tx, kindAvailability, a.USS, a); err != nil {
		return err
	}
	prev := s.avail[a.USS]
	s.avail[a.USS] = a
	s.undo = append(s.undo, func() {
		if prev == nil {
			delete(s.avail, a.USS)
		} else {
			s.avail[a.USS] = prev
		}
	})
	return nil
}

func sameExtents(a, b []dc.Volume4D) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// load reads every record of the store into a new state.
func load(ctx context.Context, store dc.Store) (*state, error) {
	s := newState()
	err := store.View(ctx, func(tx dc.Tx) error {
		dtx, ok := tx.(dc.DSSTx)
		if !ok {
			return fmt.Errorf("the store does not keep DSS records")
		}
		if err := dtx.DSSRecords(ctx, kindSubscription, func(id string, b []byte) error {
			var v subscription
			if err := json.Unmarshal(b, &v); err != nil {
				return fmt.Errorf("decode dss subscription %s: %w", id, err)
			}
			vols, err := geo.ParseVolumes(v.Extents, "extents")
			if err != nil {
				return fmt.Errorf("parse dss subscription %s: %w", id, err)
			}
			v.vols = vols
			s.applySub(id, &v)
			return nil
		}); err != nil {
			return err
		}
		if err := dtx.DSSRecords(ctx, kindOIR, func(id string, b []byte) error {
			var v oir
			if err := json.Unmarshal(b, &v); err != nil {
				return fmt.Errorf("decode dss oir %s: %w", id, err)
			}
			vols, err := geo.ParseVolumes(v.Extents, "extents")
			if err != nil {
				return fmt.Errorf("parse dss oir %s: %w", id, err)
			}
			v.vols = vols
			s.applyOIR(id, &v)
			return nil
		}); err != nil {
			return err
		}
		if err := dtx.DSSRecords(ctx, kindConstraint, func(id string, b []byte) error {
			var v constraint
			if err := json.Unmarshal(b, &v); err != nil {
				return fmt.Errorf("decode dss constraint %s: %w", id, err)
			}
			vols, err := geo.ParseVolumes(v.Extents, "extents")
			if err != nil {
				return fmt.Errorf("parse dss constraint %s: %w", id, err)
			}
			v.vols = vols
			s.applyConstraint(id, &v)
			return nil
		}); err != nil {
			return err
		}
		return dtx.DSSRecords(ctx, kindAvailability, func(id string, b []byte) error {
			var v availability
			if err := json.Unmarshal(b, &v); err != nil {
				return fmt.Errorf("decode dss availability %s: %w", id, err)
			}
			s.avail[id] = &v
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}
