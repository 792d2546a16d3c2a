package dss

import (
	"context"
	"net/http"
	"strings"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/dss/api"
)

// putSubscription creates (PUT .../{subscriptionid}) or updates (PUT
// .../{subscriptionid}/{version}) a subscription.
func (d *DSS) putSubscription(r *http.Request, c *Caller) (int, any, error) {
	id, err := entityID("subscriptionid", r.PathValue("subscriptionid"))
	if err != nil {
		return 0, nil, err
	}
	update := strings.HasSuffix(r.Pattern, "{version}")
	version := r.PathValue("version")
	var req putSubscriptionRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, no413(err)
	}
	now := d.now().UTC()
	ext, vols, err := parseArea("extents", req.Extents, now, maxSubscriptionDuration)
	if err != nil {
		return 0, nil, no413(err)
	}
	if err := checkArea([]dc.Volume4D{ext}, "extents", http.StatusBadRequest); err != nil {
		return 0, nil, err
	}
	start, end := span(vols)
	if !end.After(now) {
		return 0, nil, errorf(http.StatusBadRequest, "extents.time_end is in the past")
	}
	if end.Sub(start) > maxSubscriptionDuration {
		return 0, nil, errorf(http.StatusBadRequest, "extents: a subscription lasts at most %s", maxSubscriptionDuration)
	}
	if err := checkBaseURL("uss_base_url", req.USSBaseURL); err != nil {
		return 0, nil, err
	}
	forOIRs := req.NotifyForOperationalIntents != nil && *req.NotifyForOperationalIntents
	forCons := req.NotifyForConstraints != nil && *req.NotifyForConstraints
	if !forOIRs && !forCons {
		return 0, nil, errorf(http.StatusBadRequest, "a subscription notifies for operational intents, constraints or both")
	}
	if forOIRs && !c.Has(ScopeStrategicCoordination) {
		return 0, nil, errorf(http.StatusForbidden, "notify_for_operational_intents needs the scope %s", ScopeStrategicCoordination)
	}
	if forCons && !c.Has(ScopeConstraintProcessing) {
		return 0, nil, errorf(http.StatusForbidden, "notify_for_constraints needs the scope %s", ScopeConstraintProcessing)
	}
	a, err := d.actor(r.Context(), c.Subject)
	if err != nil {
		return 0, nil, err
	}
	next := &subscription{ID: id, Manager: c.Subject, Version: newVersion(), Extents: []dc.Volume4D{ext},
		USSBaseURL: req.USSBaseURL, NotifyForOIRs: forOIRs, NotifyForCons: forCons, Start: start, End: end, vols: vols}
	var checked *apiError
	var resp *api.PutSubscriptionResponse
	base := baseURL(r)
	var check, write func(ctx context.Context, tx dc.Tx) error
	check = func(ctx context.Context, tx dc.Tx) error {
		st := d.st
		old := st.subs[id]
		switch {
		case !update && old != nil:
			checked = errorf(http.StatusConflict, "subscription %s exists; update it with its version", id)
		case update && old == nil:
			// utm.yaml has no 404 here; the InterUSS DSS answers 400.
			checked = errorf(http.StatusBadRequest, "subscription %s does not exist, so it has no version %s", id, version)
		case update && old.Manager != c.Subject:
			checked = errorf(http.StatusForbidden, "subscription %s is managed by another USS", id)
		case update && old.Version != version:
			checked = errorf(http.StatusConflict, "version %s of subscription %s is not current", version, id)
		}
		if checked == nil && old != nil {
			next.NotificationIndex, next.Implicit = old.NotificationIndex, old.Implicit
			for dep := range st.dependents[id] {
				if o := st.oirs[dep]; o != nil && (o.Start.Before(start) || o.End.After(end)) {
					checked = errorf(http.StatusBadRequest, "the subscription would no longer cover the time of its operational intent %s", dep)
					break
				}
				if o := st.oirs[dep]; o != nil && !covers(next.Extents, cellsOf(o.Extents)) {
					checked = errorf(http.StatusBadRequest, "the subscription would no longer cover the area of its operational intent %s", dep)
					break
				}
				if o := st.oirs[dep]; o != nil && !forOIRs {
					checked = errorf(http.StatusBadRequest, "the subscription has operational intents and must notify for them")
					break
				}
			}
		}
		if checked != nil {
			return refuse(checked)
		}
		return nil
	}
	write = func(ctx context.Context, tx dc.Tx) error {
		if err := d.st.setSub(ctx, tx, id, next); err != nil {
			return err
		}
		resp = &api.PutSubscriptionResponse{Subscription: d.subscriptionOut(next)}
		if forOIRs {
			refs := []api.OperationalIntentReference{}
			for _, hid := range intersecting(d.st.oirIx, vols) {
				if o := d.st.oirs[hid]; o != nil && o.End.After(now) {
					refs = append(refs, d.oirRef(o, c.Subject))
				}
			}
			resp.OperationalIntentReferences = &refs
		}
		if forCons {
			refs := []api.ConstraintReference{}
			for _, hid := range intersecting(d.st.conIx, vols) {
				if k := d.st.constraints[hid]; k != nil && k.End.After(now) {
					refs = append(refs, d.constraintRef(k, c.Subject))
				}
			}
			ops, err := d.operationsInTx(ctx, tx, vols)
			if err != nil {
				return err
			}
			for _, op := range ops {
				refs = append(refs, opRef(op, base))
			}
			resp.ConstraintReferences = &refs
		}
		return nil
	}
	if err := d.m.Attachments().WriteAttached(r.Context(), a, d.attachment(check, write)); err != nil {
		return 0, nil, answerOf(err, checked)
	}
	return http.StatusOK, resp, nil
}

// deleteSubscription deletes a subscription at its current version.
func (d *DSS) deleteSubscription(r *http.Request, c *Caller) (int, any, error) {
	id, version, a, err := d.deleteRequest(r, c, "subscriptionid", "version")
	if err != nil {
		return 0, nil, err
	}
	var checked *apiError
	var resp *api.DeleteSubscriptionResponse
	var check, write func(ctx context.Context, tx dc.Tx) error
	check = func(ctx context.Context, tx dc.Tx) error {
		old := d.st.subs[id]
		switch {
		case old == nil:
			checked = errorf(http.StatusNotFound, "no subscription %s", id)
		case old.Manager != c.Subject:
			checked = errorf(http.StatusForbidden, "subscription %s is managed by another USS", id)
		case old.Version != version:
			checked = errorf(http.StatusConflict, "version %s of subscription %s is not current", version, id)
		case len(d.st.dependents[id]) > 0:
			checked = errorf(http.StatusBadRequest, "subscription %s has operational intents that depend on it", id)
		}
		if checked != nil {
			return refuse(checked)
		}
		resp = &api.DeleteSubscriptionResponse{Subscription: d.subscriptionOut(old)}
		return nil
	}
	write = func(ctx context.Context, tx dc.Tx) error {
		return d.st.setSub(ctx, tx, id, nil)
	}
	if err := d.m.Attachments().WriteAttached(r.Context(), a, d.attachment(check, write)); err != nil {
		return 0, nil, answerOf(err, checked)
	}
	return http.StatusOK, resp, nil
}

// getSubscription answers one of the caller's subscriptions.
func (d *DSS) getSubscription(r *http.Request, c *Caller) (int, any, error) {
	id, err := d.readEntity(r, "subscriptionid")
	if err != nil {
		return 0, nil, err
	}
	d.st.mu.RLock()
	defer d.st.mu.RUnlock()
	s := d.st.subs[id]
	if s == nil {
		return 0, nil, errorf(http.StatusNotFound, "no subscription %s", id)
	}
	if s.Manager != c.Subject {
		return 0, nil, errorf(http.StatusForbidden, "subscription %s is managed by another USS", id)
	}
	return http.StatusOK, api.GetSubscriptionResponse{Subscription: d.subscriptionOut(s)}, nil
}

// querySubscriptions answers the caller's live subscriptions that
// intersect an area of interest.
func (d *DSS) querySubscriptions(r *http.Request, c *Caller) (int, any, error) {
	now, vols, err := d.readQuery(r)
	if err != nil {
		return 0, nil, err
	}
	d.st.mu.RLock()
	defer d.st.mu.RUnlock()
	out := []api.Subscription{}
	for _, id := range intersecting(d.st.subIx, vols) {
		if s := d.st.subs[id]; s != nil && s.Manager == c.Subject && s.End.After(now) {
			out = append(out, d.subscriptionOut(s))
		}
	}
	return http.StatusOK, api.QuerySubscriptionsResponse{Subscriptions: out}, nil
}
