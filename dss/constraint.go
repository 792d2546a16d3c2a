package dss

import (
	"context"
	"net/http"
	"strings"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/dss/api"
	"github.com/google/uuid"
)

// putConstraint creates (PUT .../{entityid}) or updates (PUT
// .../{entityid}/{ovn}) a constraint reference.
func (d *DSS) putConstraint(r *http.Request, c *Caller) (int, any, error) {
	id, err := entityID("entityid", r.PathValue("entityid"))
	if err != nil {
		return 0, nil, err
	}
	update := strings.HasSuffix(r.Pattern, "{ovn}")
	ovn := r.PathValue("ovn")
	var req putConstraintRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	now := d.now().UTC()
	if err := checkBaseURL("uss_base_url", req.USSBaseURL); err != nil {
		return 0, nil, err
	}
	extents, vols, start, end, err := parseExtents(req.Extents, now)
	if err != nil {
		return 0, nil, err
	}
	if err := checkArea(extents, "extents", http.StatusRequestEntityTooLarge); err != nil {
		return 0, nil, err
	}
	a, err := d.actor(r.Context(), c.Subject)
	if err != nil {
		return 0, nil, err
	}
	next := &constraint{ID: id, Manager: c.Subject, OVN: uuid.NewString(), Extents: extents,
		USSBaseURL: req.USSBaseURL, Start: start, End: end, vols: vols, Version: 1}
	var checked *apiError
	var resp *api.ChangeConstraintReferenceResponse
	var old *constraint
	var check, write func(ctx context.Context, tx dc.Tx) error
	check = func(ctx context.Context, tx dc.Tx) error {
		old = d.st.constraints[id]
		switch {
		case !update && old != nil:
			checked = errorf(http.StatusConflict, "constraint reference %s exists; update it with its OVN", id)
		case update && old == nil:
			// utm.yaml has no 404 here; the InterUSS DSS answers 400.
			checked = errorf(http.StatusBadRequest, "constraint reference %s does not exist, so it has no OVN %s", id, ovn)
		case update && old.Manager != c.Subject:
			checked = errorf(http.StatusForbidden, "constraint reference %s is managed by another USS", id)
		case update && old.OVN != ovn:
			checked = errorf(http.StatusConflict, "the OVN %s of constraint reference %s is not current", ovn, id)
		}
		if checked != nil {
			return refuse(checked)
		}
		if old != nil {
			next.Version = old.Version + 1
		}
		return nil
	}
	write = func(ctx context.Context, tx dc.Tx) error {
		if err := d.st.setConstraint(ctx, tx, id, next); err != nil {
			return err
		}
		nv := next.vols
		if old != nil {
			nv = append(nv[:len(nv):len(nv)], old.vols...)
		}
		subs, err := d.notify(ctx, tx, nv, now, true)
		if err != nil {
			return err
		}
		resp = &api.ChangeConstraintReferenceResponse{ConstraintReference: d.constraintRef(next, c.Subject), Subscribers: subs}
		return nil
	}
	if err := d.m.Attachments().WriteAttached(r.Context(), a, d.attachment(check, write)); err != nil {
		return 0, nil, answerOf(err, checked)
	}
	if update {
		return http.StatusOK, resp, nil
	}
	return http.StatusCreated, resp, nil
}

// deleteConstraint deletes a constraint reference at its current OVN.
func (d *DSS) deleteConstraint(r *http.Request, c *Caller) (int, any, error) {
	id, ovn, a, err := d.deleteRequest(r, c, "entityid", "ovn")
	if err != nil {
		return 0, nil, err
	}
	now := d.now().UTC()
	var checked *apiError
	var resp *api.ChangeConstraintReferenceResponse
	var old *constraint
	var check, write func(ctx context.Context, tx dc.Tx) error
	check = func(ctx context.Context, tx dc.Tx) error {
		old = d.st.constraints[id]
		switch {
		case old == nil:
			checked = errorf(http.StatusNotFound, "no constraint reference %s", id)
		case old.Manager != c.Subject:
			checked = errorf(http.StatusForbidden, "constraint reference %s is managed by another USS", id)
		case old.OVN != ovn:
			checked = errorf(http.StatusConflict, "the OVN %s of constraint reference %s is not current", ovn, id)
		}
		if checked != nil {
			return refuse(checked)
		}
		return nil
	}
	write = func(ctx context.Context, tx dc.Tx) error {
		if err := d.st.setConstraint(ctx, tx, id, nil); err != nil {
			return err
		}
		subs, err := d.notify(ctx, tx, old.vols, now, true)
		if err != nil {
			return err
		}
		resp = &api.ChangeConstraintReferenceResponse{ConstraintReference: d.constraintRef(old, c.Subject), Subscribers: subs}
		return nil
	}
	if err := d.m.Attachments().WriteAttached(r.Context(), a, d.attachment(check, write)); err != nil {
		return 0, nil, answerOf(err, checked)
	}
	return http.StatusOK, resp, nil
}

// getConstraint answers one constraint reference.
func (d *DSS) getConstraint(r *http.Request, c *Caller) (int, any, error) {
	id, err := d.readEntity(r, "entityid")
	if err != nil {
		return 0, nil, err
	}
	d.st.mu.RLock()
	k := d.st.constraints[id]
	var ref api.ConstraintReference
	if k != nil {
		ref = d.constraintRef(k, c.Subject)
	}
	d.st.mu.RUnlock()
	if k != nil {
		return http.StatusOK, api.GetConstraintReferenceResponse{ConstraintReference: ref}, nil
	}
	res, err := d.m.Operation(r.Context(), observer, id)
	if err == nil && res.Operation.State.Live() && isV1(res.Operation) {
		return http.StatusOK, api.GetConstraintReferenceResponse{ConstraintReference: opRef(res.Operation, baseURL(r))}, nil
	} else if err != nil && dc.ErrorCode(err) != dc.ENotFound {
		return 0, nil, err
	}
	return 0, nil, errorf(http.StatusNotFound, "no constraint reference %s", id)
}

// queryConstraints answers the constraint references that intersect an
// area of interest.
func (d *DSS) queryConstraints(r *http.Request, c *Caller) (int, any, error) {
	now, vols, err := d.readQuery(r)
	if err != nil {
		return 0, nil, err
	}
	d.st.mu.RLock()
	out := []api.ConstraintReference{}
	for _, id := range intersecting(d.st.conIx, vols) {
		if k := d.st.constraints[id]; k != nil && k.End.After(now) {
			out = append(out, d.constraintRef(k, c.Subject))
		}
	}
	d.st.mu.RUnlock()
	ops, err := d.operationsIn(r.Context(), vols)
	if err != nil {
		return 0, nil, err
	}
	for _, op := range ops {
		out = append(out, opRef(op, baseURL(r)))
	}
	return http.StatusOK, api.QueryConstraintReferencesResponse{ConstraintReferences: out}, nil
}
