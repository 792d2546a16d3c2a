package dss

import (
	"context"
	"encoding/json"
	"net/http"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/dss/api"
	"github.com/google/uuid"
)

// getAvailability answers a USS's arbitrated availability: Unknown, with
// an empty version, until an arbiter set one.
func (d *DSS) getAvailability(r *http.Request, c *Caller) (int, any, error) {
	uss := r.PathValue("uss_id")
	if err := d.refresh(r); err != nil {
		return 0, nil, err
	}
	d.st.mu.RLock()
	defer d.st.mu.RUnlock()
	out := api.UssAvailabilityStatusResponse{Status: api.UssAvailabilityStatus{Uss: uss, Availability: api.Unknown}}
	if a := d.st.avail[uss]; a != nil {
		out.Status.Availability, out.Version = api.UssAvailabilityState(a.State), a.Version
	}
	return http.StatusOK, out, nil
}

// setAvailability sets a USS's availability, at the version the arbiter
// last read ("" before the first).
func (d *DSS) setAvailability(r *http.Request, c *Caller) (int, any, error) {
	uss := r.PathValue("uss_id")
	if uss == "" || len(uss) > 256 {
		return 0, nil, errorf(http.StatusBadRequest, "uss_id must be 1 to 256 characters")
	}
	var req availabilityRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, no413(err)
	}
	switch api.UssAvailabilityState(req.Availability) {
	case api.Unknown, api.Normal, api.Down:
	default:
		return 0, nil, errorf(http.StatusBadRequest, "availability %q is not one of Unknown, Normal, Down", req.Availability)
	}
	a, err := d.actor(r.Context(), c.Subject)
	if err != nil {
		return 0, nil, err
	}
	next := &availability{USS: uss, State: req.Availability, Version: newVersion()}
	var checked *apiError
	var check, write func(ctx context.Context, tx dc.Tx) error
	check = func(ctx context.Context, tx dc.Tx) error {
		cur := ""
		if old := d.st.avail[uss]; old != nil {
			cur = old.Version
		}
		if req.OldVersion != cur {
			checked = errorf(http.StatusConflict, "old_version %q is not the current version %q", req.OldVersion, cur)
			return refuse(checked)
		}
		return nil
	}
	write = func(ctx context.Context, tx dc.Tx) error {
		return d.st.setAvailability(ctx, tx, next)
	}
	if err := d.m.Attachments().WriteAttached(r.Context(), a, d.attachment(check, write)); err != nil {
		return 0, nil, answerOf(err, checked)
	}
	return http.StatusOK, api.UssAvailabilityStatusResponse{
		Status: api.UssAvailabilityStatus{Uss: uss, Availability: api.UssAvailabilityState(next.State)}, Version: next.Version}, nil
}

// report keeps a USS's report of a problem with another party (POST
// /dss/v1/reports) and answers it with the ID it was given.
func (d *DSS) report(r *http.Request, c *Caller) (int, any, error) {
	var req reportRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, no413(err)
	}
	if req.Exchange == nil {
		return 0, nil, errorf(http.StatusBadRequest, "exchange is required")
	}
	var ex api.ExchangeRecord
	if err := json.Unmarshal(*req.Exchange, &ex); err != nil {
		return 0, nil, errorf(http.StatusBadRequest, "exchange: %v", err)
	}
	if ex.Url == "" || ex.Method == "" || ex.RecorderRole == "" {
		return 0, nil, errorf(http.StatusBadRequest, "exchange: url, method and recorder_role are required")
	}
	id := uuid.NewString()
	doc := map[string]any{"report_id": id, "exchange": req.Exchange, "reporter": c.Subject}
	a, err := d.actor(r.Context(), c.Subject)
	if err != nil {
		return 0, nil, err
	}
	check := func(context.Context, dc.Tx) error { return nil }
	write := func(ctx context.Context, tx dc.Tx) error { return d.st.write(ctx, tx, kindReport, id, doc) }
	if err := d.m.Attachments().WriteAttached(r.Context(), a, d.attachment(check, write)); err != nil {
		return 0, nil, err
	}
	d.log.Info("dss report", "report_id", id, "reporter", c.Subject)
	return http.StatusCreated, map[string]any{"report_id": id, "exchange": req.Exchange}, nil
}
