package dss

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/dss/api"
	"github.com/deconflict/deconflict/geo"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/golang/geo/s2"
	"github.com/google/uuid"
)

// The states of an operational intent a DSS keeps (Ended ones are
// deleted).
const (
	stateAccepted      = "Accepted"
	stateActivated     = "Activated"
	stateNonconforming = "Nonconforming"
	stateContingent    = "Contingent"
)

// requiresKey reports whether an OIR in the state must be deconflicted:
// a create or update into it needs a complete key, and others must name
// it in theirs. Off-nominal states are flown as they can be.
func requiresKey(s string) bool { return s == stateAccepted || s == stateActivated }

func validState(s string) bool {
	return s == stateAccepted || s == stateActivated || s == stateNonconforming || s == stateContingent
}

// refuse is what an attachment's Check returns when the DSS refuses a
// request: a *deconflict.Error, so that the mechanism's batch goes on
// without it. The handler answers the apiError it kept itself.
func refuse(*apiError) error {
	return &dc.Error{Code: dc.EInvalid, Message: "refused by the DSS"}
}

// answerOf returns the answer an error of a write stands for.
func answerOf(err error, checked *apiError) error {
	if checked != nil {
		return checked
	}
	return err
}

// putOIR creates (PUT .../{entityid}) or updates (PUT .../{entityid}/{ovn})
// an operational intent reference.
func (d *DSS) putOIR(r *http.Request, c *Caller) (int, any, error) {
	id, err := entityID("entityid", r.PathValue("entityid"))
	if err != nil {
		return 0, nil, err
	}
	update := strings.HasSuffix(r.Pattern, "{ovn}")
	ovn := r.PathValue("ovn")
	if update && ovn == "" {
		return 0, nil, errorf(http.StatusBadRequest, "ovn is required to update an operational intent reference")
	}
	var req putOIRRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	now := d.now().UTC()
	if !validState(req.State) {
		return 0, nil, errorf(http.StatusBadRequest, "state %q is not one of Accepted, Activated, Nonconforming, Contingent", req.State)
	}
	if !requiresKey(req.State) && !c.Has(ScopeConformanceMonitoring) {
		return 0, nil, errorf(http.StatusForbidden, "state %s needs the scope %s", req.State, ScopeConformanceMonitoring)
	}
	if !update && req.State != stateAccepted {
		return 0, nil, errorf(http.StatusBadRequest, "an operational intent is created Accepted, not %s", req.State)
	}
	if err := checkBaseURL("uss_base_url", req.USSBaseURL); err != nil {
		return 0, nil, err
	}
	subID := ""
	if req.SubscriptionID != nil && *req.SubscriptionID != "" {
		if subID, err = entityID("subscription_id", *req.SubscriptionID); err != nil {
			return 0, nil, err
		}
	}
	if ns := req.NewSubscription; ns != nil {
		if err := checkBaseURL("new_subscription.uss_base_url", ns.USSBaseURL); err != nil {
			return 0, nil, err
		}
		if subID != "" {
			return 0, nil, errorf(http.StatusBadRequest, "give subscription_id or new_subscription, not both")
		}
	}
	if req.State != stateAccepted && subID == "" && req.NewSubscription == nil {
		return 0, nil, errorf(http.StatusBadRequest, "state %s needs subscription_id or new_subscription", req.State)
	}
	extents, vols, start, end, err := parseExtents(req.Extents, now)
	if err != nil {
		return 0, nil, err
	}
	if err := checkArea(extents, "extents", http.StatusRequestEntityTooLarge); err != nil {
		return 0, nil, err
	}
	newOVN := uuid.NewString()
	if s := req.RequestedOVNSuffix; s != nil {
		if err := checkOVNSuffix(*s, now); err != nil {
			return 0, nil, err
		}
		newOVN = id + "_" + strings.ToLower(*s)
	}
	var cells []s2.CellID
	if subID != "" {
		cells = cellsOf(extents) // outside the write lock
	}
	key := map[string]bool{}
	for _, k := range req.Key {
		key[k] = true
	}
	a, err := d.actor(r.Context(), c.Subject)
	if err != nil {
		return 0, nil, err
	}

	next := &oir{ID: id, Manager: c.Subject, OVN: newOVN, State: req.State, Extents: extents,
		USSBaseURL: req.USSBaseURL, Start: start, End: end, vols: vols}
	// The record as most creations store it (version 1, no subscription),
	// encoded here rather than under the writer's lock; writeOIR uses it
	// only if the plan left those two so.
	first := *next
	first.Version = 1
	firstDoc, err := json.Marshal(&first)
	if err != nil {
		return 0, nil, fmt.Errorf("encode the operational intent reference: %w", err)
	}
	var checked *apiError
	var subs []api.SubscriberToNotify
	var p oirPlan
	var check, write func(ctx context.Context, tx dc.Tx) error
	check = func(ctx context.Context, tx dc.Tx) error {
		p = oirPlan{next: next, key: key, subID: subID, newSub: req.NewSubscription, now: now, base: baseURL(r), cells: cells, firstDoc: firstDoc}
		var err error
		if checked, err = d.planOIR(ctx, tx, &p, update, ovn); err != nil {
			return err
		} else if checked != nil {
			return refuse(checked)
		}
		return nil
	}
	write = func(ctx context.Context, tx dc.Tx) error {
		var err error
		subs, err = d.writeOIR(ctx, tx, &p)
		return err
	}
	mstate := dc.StatePlanned
	if req.State != stateAccepted {
		mstate = dc.StateActive
	}
	att := d.attachment(check, write)
	att.ActivateDespiteConflicts = true
	att.Volumes = vols // parsed by parseExtents, as the mechanism would
	if _, err := d.m.Attachments().DeclareAttached(r.Context(), a, id, mechanism.Declaration{Volumes: extents, State: mstate}, att); err != nil {
		return 0, nil, answerOf(err, checked)
	}
	// The answer is made once the writer has let go: next no longer
	// changes, and the availability is as the write saw it.
	resp := oirChangeAnswer(next, next.Manager, p.avail, subs)
	if update {
		return http.StatusOK, resp, nil
	}
	return http.StatusCreated, resp, nil
}

// checkOVNSuffix checks a requested_ovn_suffix: a UUIDv7 whose time is
// within ovnSuffixSkew of now.
func checkOVNSuffix(s string, now time.Time) error {
	u, err := uuid.Parse(s)
	if err != nil || u.Version() != 7 || len(s) != 36 {
		return errorf(http.StatusBadRequest, "requested_ovn_suffix %q is not a UUIDv7", s)
	}
	sec, nsec := u.Time().UnixTime()
	t := time.Unix(sec, nsec)
	if d := t.Sub(now); d > ovnSuffixSkew || d < -ovnSuffixSkew {
		return errorf(http.StatusBadRequest, "requested_ovn_suffix %q holds the time %s, too far from now", s, t.UTC().Format(time.RFC3339))
	}
	return nil
}

// ovnSuffixSkew is how far the time of a requested OVN suffix may be
// from the DSS's clock.
const ovnSuffixSkew = 5 * time.Minute

// oirPlan is what a create or update of an OIR changes, decided by
// planOIR under the write lock and made by writeOIR.
type oirPlan struct {
	next    *oir
	key     map[string]bool
	subID   string
	newSub  *newSubscription
	now     time.Time
	base    string      // this server's URL, for the constraints of /v1 operations
	cells   []s2.CellID // the cells of next's footprints, when a subscription is named (coverage.go)
	old     *oir
	attach  *subscription // the subscription to store with the OIR (new or changed), or nil
	dropSub string        // an implicit subscription left without dependents
	// avail is the manager's availability when writeOIR wrote, for the
	// answer.
	avail api.UssAvailabilityState
	// firstDoc is next's record as it is stored with version 1 and no
	// subscription.
	firstDoc []byte
}

// planOIR decides an OIR change against the current state, or refuses
// it. It runs in the mechanism's write transaction with st.mu held.
func (d *DSS) planOIR(ctx context.Context, tx dc.Tx, p *oirPlan, update bool, ovn string) (*apiError, error) {
	st, next, caller := d.st, p.next, p.next.Manager
	old := st.oirs[next.ID]
	p.old = old
	switch {
	case !update && old != nil:
		return errorf(http.StatusConflict, "operational intent reference %s exists; update it with its OVN", next.ID), nil
	case update && old == nil:
		return errorf(http.StatusBadRequest, "operational intent reference %s does not exist, so it has no OVN %s", next.ID, ovn), nil
	case update && old.Manager != caller:
		return errorf(http.StatusForbidden, "operational intent reference %s is managed by another USS", next.ID), nil
	case update && old.OVN != ovn:
		return errorf(http.StatusConflict, "the OVN %s of operational intent reference %s is not current", ovn, next.ID), nil
	case requiresKey(next.State) && d.availabilityOf(caller) == api.Down:
		return errorf(http.StatusPreconditionFailed, "USS %s is marked Down in the DSS: it may not make an operational intent %s until an arbiter restores it", caller, next.State), nil
	}
	next.Version, next.SubscriptionID = 1, ""
	if old != nil {
		next.Version = old.Version + 1
	}

	var prevSub *subscription
	if old != nil && old.SubscriptionID != "" {
		prevSub = st.subs[old.SubscriptionID]
	}
	var attached *subscription
	switch {
	case p.subID != "":
		s := st.subs[p.subID]
		if s == nil {
			return errorf(http.StatusBadRequest, "subscription %s does not exist", p.subID), nil
		}
		if s.Manager != caller {
			return errorf(http.StatusForbidden, "subscription %s is managed by another USS", p.subID), nil
		}
		if !s.NotifyForOIRs {
			return errorf(http.StatusBadRequest, "subscription %s does not notify for operational intents", p.subID), nil
		}
		attached = s
		if s.Implicit {
			c := *s
			c.Extents, c.vols = append([]dc.Volume4D(nil), next.Extents...), append([]geo.Volume(nil), next.vols...)
			for _, dep := range sortedKeys(st.dependents[s.ID]) {
				if o := st.oirs[dep]; dep != next.ID && o != nil {
					c.Extents, c.vols = append(c.Extents, o.Extents...), append(c.vols, o.vols...)
				}
			}
			c.Start, c.End = span(c.vols)
			if !sameExtents(c.Extents, s.Extents) {
				c.Version = newVersion()
				p.attach = &c
				attached = &c
			}
		} else if s.Start.After(next.Start) || s.End.Before(next.End) {
			return errorf(http.StatusBadRequest, "subscription %s does not cover the time of the operational intent", p.subID), nil
		} else if !covers(s.Extents, p.cells) {
			return errorf(http.StatusBadRequest, "subscription %s does not cover the area of the operational intent", p.subID), nil
		}
	case p.newSub != nil:
		forCons := p.newSub.NotifyForConstraints != nil && *p.newSub.NotifyForConstraints
		attached = &subscription{ID: uuid.NewString(), Manager: caller, Version: newVersion(),
			Extents: next.Extents, USSBaseURL: p.newSub.USSBaseURL, NotifyForOIRs: true, NotifyForCons: forCons,
			Implicit: true, Start: next.Start, End: next.End, vols: next.vols}
		p.attach = attached
	}
	if attached != nil {
		next.SubscriptionID = attached.ID
	}
	if prevSub != nil && prevSub.ID != next.SubscriptionID && prevSub.Implicit {
		if deps := st.dependents[prevSub.ID]; len(deps) == 1 && deps[next.ID] {
			p.dropSub = prevSub.ID
		}
	}

	if requiresKey(next.State) {
		var missingOIRs []api.OperationalIntentReference
		for _, hid := range intersecting(st.oirIx, next.vols) {
			o := st.oirs[hid]
			// An intent whose time is over is Ended in all but name: there
			// is nothing left to deconflict with it.
			if hid == next.ID || o == nil || !requiresKey(o.State) || !o.End.After(p.now) || p.key[o.OVN] {
				continue
			}
			missingOIRs = append(missingOIRs, d.oirRef(o, caller))
		}
		var missingCons []api.ConstraintReference
		if attached != nil && attached.NotifyForCons {
			for _, hid := range intersecting(st.conIx, next.vols) {
				if c := st.constraints[hid]; c != nil && c.End.After(p.now) && !p.key[c.OVN] {
					missingCons = append(missingCons, d.constraintRef(c, caller))
				}
			}
			ops, err := d.operationsInTx(ctx, tx, next.vols)
			if err != nil {
				return nil, err
			}
			for _, op := range ops {
				if op.End.After(p.now) && !p.key[opOVN(op)] {
					missingCons = append(missingCons, opRef(op, p.base))
				}
			}
		}
		if len(missingOIRs) > 0 || len(missingCons) > 0 {
			body := api.AirspaceConflictResponse{Message: ptr("the key lacks the current OVN of one or more intersecting entities")}
			if len(missingOIRs) > 0 {
				body.MissingOperationalIntents = &missingOIRs
			}
			if len(missingCons) > 0 {
				body.MissingConstraints = &missingCons
			}
			return &apiError{status: http.StatusConflict, body: body}, nil
		}
	}
	return nil, nil
}

// writeOIR makes a planned OIR change, in the transaction and in memory,
// and returns the subscribers to notify.
func (d *DSS) writeOIR(ctx context.Context, tx dc.Tx, p *oirPlan) ([]api.SubscriberToNotify, error) {
	st := d.st
	if p.attach != nil {
		if err := st.setSub(ctx, tx, p.attach.ID, p.attach); err != nil {
			return nil, err
		}
	}
	var doc []byte
	if p.next.Version == 1 && p.next.SubscriptionID == "" {
		doc = p.firstDoc
	}
	if err := st.setOIREncoded(ctx, tx, p.next.ID, p.next, doc); err != nil {
		return nil, err
	}
	if p.dropSub != "" {
		if err := st.setSub(ctx, tx, p.dropSub, nil); err != nil {
			return nil, err
		}
	}
	vols := p.next.vols
	if p.old != nil {
		vols = append(append([]geo.Volume(nil), p.old.vols...), vols...)
	}
	subs, err := d.notify(ctx, tx, vols, p.now, false)
	if err != nil {
		return nil, err
	}
	p.avail = d.availabilityOf(p.next.Manager)
	return subs, nil
}

// notify advances the notification index of every live subscription
// whose extents intersect vols and that asks for the kind of entity
// (constraints if cons, else operational intents), and returns them by
// USS, as the answer of a change lists the subscribers to notify.
func (d *DSS) notify(ctx context.Context, tx dc.Tx, vols []geo.Volume, now time.Time, cons bool) ([]api.SubscriberToNotify, error) {
	st := d.st
	byURL := map[string][]api.SubscriptionState{}
	for _, id := range intersecting(st.subIx, vols) {
		s := st.subs[id]
		if s == nil || !s.End.After(now) || (cons && !s.NotifyForCons) || (!cons && !s.NotifyForOIRs) {
			continue
		}
		c := *s
		c.NotificationIndex++
		if err := st.setSub(ctx, tx, c.ID, &c); err != nil {
			return nil, err
		}
		byURL[c.USSBaseURL] = append(byURL[c.USSBaseURL], api.SubscriptionState{SubscriptionId: subID(c.ID), NotificationIndex: c.NotificationIndex})
	}
	out := []api.SubscriberToNotify{}
	urls := make([]string, 0, len(byURL))
	for u := range byURL {
		urls = append(urls, u)
	}
	sort.Strings(urls)
	for _, u := range urls {
		var s api.SubscriberToNotify
		_ = s.UssBaseUrl.FromUssBaseURL(u)
		s.Subscriptions = byURL[u]
		out = append(out, s)
	}
	return out, nil
}

// deleteOIR deletes an operational intent reference at its current OVN.
func (d *DSS) deleteOIR(r *http.Request, c *Caller) (int, any, error) {
	id, ovn, a, err := d.deleteRequest(r, c, "entityid", "ovn")
	if err != nil {
		return 0, nil, err
	}
	now := d.now().UTC()
	var checked *apiError
	var resp *api.ChangeOperationalIntentReferenceResponse
	var old *oir
	var dropSub string
	var check, write func(ctx context.Context, tx dc.Tx) error
	check = func(ctx context.Context, tx dc.Tx) error {
		old, dropSub = d.st.oirs[id], ""
		switch {
		case old == nil:
			checked = errorf(http.StatusNotFound, "no operational intent reference %s", id)
		case old.Manager != c.Subject:
			checked = errorf(http.StatusForbidden, "operational intent reference %s is managed by another USS", id)
		case old.OVN != ovn:
			checked = errorf(http.StatusConflict, "the OVN %s of operational intent reference %s is not current", ovn, id)
		case d.availabilityOf(c.Subject) == api.Down:
			checked = errorf(http.StatusPreconditionFailed, "USS %s is marked Down in the DSS: it may not delete operational intents until an arbiter restores it", c.Subject)
		}
		if checked != nil {
			return refuse(checked)
		}
		if s := d.st.subs[old.SubscriptionID]; s != nil && s.Implicit {
			if deps := d.st.dependents[s.ID]; len(deps) == 1 && deps[id] {
				dropSub = s.ID
			}
		}
		return nil
	}
	write = func(ctx context.Context, tx dc.Tx) error {
		// The subscribers are those before the deletion, its own implicit
		// subscription included, as the InterUSS DSS answers.
		subs, err := d.notify(ctx, tx, old.vols, now, false)
		if err != nil {
			return err
		}
		if err := d.st.setOIR(ctx, tx, id, nil); err != nil {
			return err
		}
		if dropSub != "" {
			if err := d.st.setSub(ctx, tx, dropSub, nil); err != nil {
				return err
			}
		}
		resp = &api.ChangeOperationalIntentReferenceResponse{OperationalIntentReference: d.oirRef(old, c.Subject), Subscribers: subs}
		return nil
	}
	if _, err := d.m.Attachments().CancelAttached(r.Context(), a, id, d.attachment(check, write)); err != nil {
		return 0, nil, answerOf(err, checked)
	}
	return http.StatusOK, resp, nil
}

// getOIR answers one operational intent reference.
func (d *DSS) getOIR(r *http.Request, c *Caller) (int, any, error) {
	id, err := d.readEntity(r, "entityid")
	if err != nil {
		return 0, nil, err
	}
	d.st.mu.RLock()
	defer d.st.mu.RUnlock()
	o := d.st.oirs[id]
	if o == nil {
		return 0, nil, errorf(http.StatusNotFound, "no operational intent reference %s", id)
	}
	return http.StatusOK, api.GetOperationalIntentReferenceResponse{OperationalIntentReference: d.oirRef(o, c.Subject)}, nil
}

// queryOIRs answers the operational intent references that intersect an
// area of interest.
func (d *DSS) queryOIRs(r *http.Request, c *Caller) (int, any, error) {
	now, vols, err := d.readQuery(r)
	if err != nil {
		return 0, nil, err
	}
	d.st.mu.RLock()
	defer d.st.mu.RUnlock()
	out := []api.OperationalIntentReference{}
	for _, id := range intersecting(d.st.oirIx, vols) {
		if o := d.st.oirs[id]; o != nil && o.End.After(now) {
			out = append(out, d.oirRef(o, c.Subject))
		}
	}
	return http.StatusOK, api.QueryOperationalIntentReferenceResponse{OperationalIntentReferences: out}, nil
}

// queryHorizon is how far ahead a query without time_end looks.
const queryHorizon = 10 * 365 * 24 * time.Hour

func newVersion() string { return strings.ReplaceAll(uuid.NewString(), "-", "")[:16] }
