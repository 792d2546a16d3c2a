package dss

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
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
	v1ops       map[string]*v1op           // live /v1 operations, as of their last change (follow.go)
	v1Cursor    int64                      // the last mechanism event applied (follow.go)
	purged      int64                      // tombstones up to this change number were purged (purge.go)
	oirIx       *geo.Index
	conIx       *geo.Index
	subIx       *geo.Index

	// seq is the change number of the last record change applied (see
	// deconflict.DSSTx): what this process has seen of the store.
	seq int64

	// Used by the writer only.
	locked bool
	synced bool // caught up with the store in this attempt
	undo   []func()
}

func newState() *state {
	return &state{
		oirs: map[string]*oir{}, constraints: map[string]*constraint{}, subs: map[string]*subscription{},
		avail: map[string]*availability{}, dependents: map[string]map[string]bool{}, v1ops: map[string]*v1op{},
		oirIx: geo.NewIndex(), conIx: geo.NewIndex(), subIx: geo.NewIndex(),
	}
}

// BeginAttempt takes the write lock for a batch, or, on a retry of the
// batch's transaction, undoes what the failed attempt changed.
func (s *state) BeginAttempt() {
	s.synced = false
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

// write stores a record (v nil: deletes it) in tx under the next change
// number. Called by the writer with mu held, after catchUp.
func (s *state) write(ctx context.Context, tx dc.Tx, kind, id string, v any) error {
	return s.writeEncoded(ctx, tx, kind, id, v, nil)
}

// writeEncoded is write, given v's JSON encoding if it was made already
// (nil: write makes it).
func (s *state) writeEncoded(ctx context.Context, tx dc.Tx, kind, id string, v any, b []byte) error {
	dtx, ok := tx.(dc.DSSTx)
	if !ok {
		return fmt.Errorf("the store does not keep DSS records")
	}
	if rv := reflect.ValueOf(v); b == nil && v != nil && !((rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Map) && rv.IsNil()) {
		var err error
		if b, err = json.Marshal(v); err != nil {
			return fmt.Errorf("encode dss %s %s: %w", kind, id, err)
		}
	}
	if err := dtx.PutDSSRecord(ctx, kind, id, s.seq+1, b); err != nil {
		return err
	}
	s.seq++
	s.undo = append(s.undo, func() { s.seq-- })
	return nil
}

// catchUp applies the changes other processes committed since this one
// last looked, once per attempt of a batch. Called by the writer with mu
// held, before its first check.
func (s *state) catchUp(ctx context.Context, tx dc.Tx) error {
	if s.synced {
		return nil
	}
	if err := s.applySince(ctx, tx); err != nil {
		return err
	}
	s.synced = true
	return nil
}

// applySince applies the records changed after s.seq. Called with mu
// held (write).
func (s *state) applySince(ctx context.Context, tx dc.Tx) error {
	dtx, ok := tx.(dc.DSSTx)
	if !ok {
		return fmt.Errorf("the store does not keep DSS records")
	}
	last, err := dtx.DSSLastSeq(ctx)
	if err != nil || last <= s.seq {
		return err
	}
	before, reload := s.seq, false
	err = dtx.DSSRecordsSince(ctx, s.seq, func(kind, id string, seq int64, doc []byte) error {
		if kind == kindPurge {
			// Tombstones up to h.Seq are gone: a process that had not
			// seen that far missed deletions and reloads.
			var h horizon
			if err := json.Unmarshal(doc, &h); err != nil {
				return fmt.Errorf("dss purge horizon: %w", err)
			}
			reload = reload || (before > 0 && h.Seq > before)
			s.purged = max(s.purged, h.Seq)
		} else if err := s.applyRecord(kind, id, doc); err != nil {
			return err
		}
		s.seq = seq
		return nil
	})
	if err != nil || !reload {
		return err
	}
	fresh := newState()
	if err := dtx.DSSRecordsSince(ctx, 0, func(kind, id string, seq int64, doc []byte) error {
		if kind == kindPurge {
			var h horizon
			if err := json.Unmarshal(doc, &h); err != nil {
				return fmt.Errorf("dss purge horizon: %w", err)
			}
			fresh.purged = max(fresh.purged, h.Seq)
		} else if err := fresh.applyRecord(kind, id, doc); err != nil {
			return err
		}
		fresh.seq = max(fresh.seq, seq)
		return nil
	}); err != nil {
		return err
	}
	s.oirs, s.constraints, s.subs, s.avail, s.dependents, s.v1ops = fresh.oirs, fresh.constraints, fresh.subs, fresh.avail, fresh.dependents, fresh.v1ops
	s.oirIx, s.conIx, s.subIx, s.v1Cursor, s.purged, s.seq = fresh.oirIx, fresh.conIx, fresh.subIx, fresh.v1Cursor, fresh.purged, fresh.seq
	return nil
}

// applyRecord applies one stored record (doc nil: deleted) to memory.
func (s *state) applyRecord(kind, id string, doc []byte) error {
	switch kind {
	case kindOIR:
		if doc == nil {
			s.applyOIR(id, nil)
			return nil
		}
		var v oir
		if err := decodeRecord(doc, &v, &v.Extents, &v.vols); err != nil {
			return fmt.Errorf("dss oir %s: %w", id, err)
		}
		s.applyOIR(id, &v)
	case kindConstraint:
		if doc == nil {
			s.applyConstraint(id, nil)
			return nil
		}
		var v constraint
		if err := decodeRecord(doc, &v, &v.Extents, &v.vols); err != nil {
			return fmt.Errorf("dss constraint %s: %w", id, err)
		}
		s.applyConstraint(id, &v)
	case kindSubscription:
		if doc == nil {
			s.applySub(id, nil)
			return nil
		}
		var v subscription
		if err := decodeRecord(doc, &v, &v.Extents, &v.vols); err != nil {
			return fmt.Errorf("dss subscription %s: %w", id, err)
		}
		s.applySub(id, &v)
	case kindV1Op:
		if doc == nil {
			delete(s.v1ops, id)
			return nil
		}
		var v v1op
		if err := decodeRecord(doc, &v, &v.Extents, &v.vols); err != nil {
			return fmt.Errorf("dss v1 operation %s: %w", id, err)
		}
		s.v1ops[id] = &v
	case kindCursor:
		var c cursor
		if doc != nil {
			if err := json.Unmarshal(doc, &c); err != nil {
				return fmt.Errorf("dss cursor %s: %w", id, err)
			}
		}
		if id == cursorV1 {
			s.v1Cursor = c.Seq
		}
	case kindAvailability:
		if doc == nil {
			delete(s.avail, id)
			return nil
		}
		var v availability
		if err := json.Unmarshal(doc, &v); err != nil {
			return fmt.Errorf("dss availability %s: %w", id, err)
		}
		s.avail[id] = &v
	}
	return nil
}

// decodeRecord decodes a record and parses its extents into vols.
func decodeRecord(doc []byte, v any, extents *[]dc.Volume4D, vols *[]geo.Volume) error {
	if err := json.Unmarshal(doc, v); err != nil {
		return err
	}
	parsed, err := geo.ParseVolumes(*extents, "extents")
	if err != nil {
		return err
	}
	*vols = parsed
	return nil
}

// refresh brings the state up to what the store has committed, if
// another process changed it: readers call it before they answer. It
// holds no transaction while it waits for the lock.
func (s *state) refresh(ctx context.Context, store dc.Store) error {
	s.mu.RLock()
	seen := s.seq
	s.mu.RUnlock()
	var last int64
	if err := store.View(ctx, func(tx dc.Tx) error {
		dtx, ok := tx.(dc.DSSTx)
		if !ok {
			return fmt.Errorf("the store does not keep DSS records")
		}
		var err error
		last, err = dtx.DSSLastSeq(ctx)
		return err
	}); err != nil || last <= seen {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seq >= last {
		return nil // a batch of this process caught up meanwhile
	}
	return store.View(ctx, func(tx dc.Tx) error { return s.applySince(ctx, tx) })
}

// setOIR stores o (nil: removes the OIR id) in tx and in memory, keeping
// the undo log. Called by the writer with mu held.
func (s *state) setOIR(ctx context.Context, tx dc.Tx, id string, o *oir) error {
	return s.setOIREncoded(ctx, tx, id, o, nil)
}

// setOIREncoded is setOIR, given o's JSON encoding if it was made already
// (nil: it is made here).
func (s *state) setOIREncoded(ctx context.Context, tx dc.Tx, id string, o *oir, doc []byte) error {
	if err := s.writeEncoded(ctx, tx, kindOIR, id, o, doc); err != nil {
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
	if err := s.write(ctx, tx, kindConstraint, id, c); err != nil {
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
	if err := s.write(ctx, tx, kindSubscription, id, sub); err != nil {
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
	if err := s.write(ctx, tx, kindAvailability, a.USS, a); err != nil {
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

// setV1Op is setOIR for the volumes of /v1 operations.
func (s *state) setV1Op(ctx context.Context, tx dc.Tx, id string, o *v1op) error {
	if err := s.write(ctx, tx, kindV1Op, id, o); err != nil {
		return err
	}
	prev, had := s.v1ops[id]
	if o == nil {
		delete(s.v1ops, id)
	} else {
		s.v1ops[id] = o
	}
	s.undo = append(s.undo, func() {
		if had {
			s.v1ops[id] = prev
		} else {
			delete(s.v1ops, id)
		}
	})
	return nil
}

// setCursor records that the mechanism's events up to seq were applied.
func (s *state) setCursor(ctx context.Context, tx dc.Tx, seq int64) error {
	if err := s.write(ctx, tx, kindCursor, cursorV1, cursor{Seq: seq}); err != nil {
		return err
	}
	prev := s.v1Cursor
	s.v1Cursor = seq
	s.undo = append(s.undo, func() { s.v1Cursor = prev })
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
	err := store.View(ctx, func(tx dc.Tx) error { return s.applySince(ctx, tx) })
	if err != nil {
		return nil, err
	}
	return s, nil
}
