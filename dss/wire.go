package dss

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/dss/api"
	"github.com/deconflict/deconflict/geo"
	"github.com/deconflict/deconflict/mechanism"
	jsonv2 "github.com/go-json-experiment/json"
	"github.com/google/uuid"
)

// The request bodies, as utm.yaml declares them. They are decoded into
// these rather than into the generated types of package api because
// those cannot tell a missing number from zero and keep a radius in a
// float32; TestRequestShapes checks that every field name here is one
// utm.yaml gives. Fields utm.yaml does not declare are ignored, as F3548
// requires.
type (
	putOIRRequest struct {
		Extents            []dc.Volume4D    `json:"extents"`
		Key                []string         `json:"key"`
		State              string           `json:"state"`
		USSBaseURL         string           `json:"uss_base_url"`
		SubscriptionID     *string          `json:"subscription_id"`
		NewSubscription    *newSubscription `json:"new_subscription"`
		RequestedOVNSuffix *string          `json:"requested_ovn_suffix"`
	}
	newSubscription struct {
		USSBaseURL           string `json:"uss_base_url"`
		NotifyForConstraints *bool  `json:"notify_for_constraints"`
	}
	putConstraintRequest struct {
		Extents    []dc.Volume4D `json:"extents"`
		USSBaseURL string        `json:"uss_base_url"`
	}
	putSubscriptionRequest struct {
		Extents                     *dc.Volume4D `json:"extents"`
		USSBaseURL                  string       `json:"uss_base_url"`
		NotifyForOperationalIntents *bool        `json:"notify_for_operational_intents"`
		NotifyForConstraints        *bool        `json:"notify_for_constraints"`
	}
	queryRequest struct {
		AreaOfInterest *dc.Volume4D `json:"area_of_interest"`
	}
	availabilityRequest struct {
		OldVersion   string `json:"old_version"`
		Availability string `json:"availability"`
	}
	reportRequest struct {
		ReportID *string          `json:"report_id"`
		Exchange *json.RawMessage `json:"exchange"`
	}
)

// maxBody bounds a request body, as on /v1.
const maxBody = 4 << 20

// noOVN is what a USS reads in place of the OVN of an entity it does not
// manage (the InterUSS DSS's phrase): it must get the OVN from the
// manager, which proves it has the details.
const noOVN = "Available from USS"

// nullSubscription is the subscription_id of an OIR with none (the
// InterUSS DSS's null UUIDv4).
const nullSubscription = "00000000-0000-4000-8000-000000000000"

// apiError is an answer other than 2xx: a status and its body (an
// ErrorResponse, or an AirspaceConflictResponse).
type apiError struct {
	status int
	body   any
}

func (e *apiError) Error() string {
	if r, ok := e.body.(api.ErrorResponse); ok && r.Message != nil {
		return *r.Message
	}
	return http.StatusText(e.status)
}

func errorf(status int, format string, args ...any) *apiError {
	msg := fmt.Sprintf(format, args...)
	return &apiError{status: status, body: api.ErrorResponse{Message: &msg}}
}

// decode reads a JSON body into v, as encoding/json decodes one value
// from the body as a stream (decodeStream), with its answers to bodies
// it refuses.
//
// The body is read whole first. The request types of the hot paths are
// then decoded by JSON v2 under its strict defaults, made stricter: any
// member whose name is not exactly a field's refused, as are duplicate
// names and invalid UTF-8. What it accepts, encoding/json decodes to the
// same value (exact names; plain strings, numbers, lists and pointers,
// without methods of their own), in a fraction of the time. Anything it
// refuses, and every other type, goes through decodeStream over the same
// bytes, read error included, so the answer is encoding/json's in every
// case.
func decode(r *http.Request, v any) error {
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	if err == nil && plainRequest(v) && jsonv2.Unmarshal(b, v, jsonv2.RejectUnknownMembers(true)) == nil {
		return nil
	}
	var src io.Reader = bytes.NewReader(b)
	if err != nil {
		src = io.MultiReader(src, errReader{err})
	}
	return decodeStream(src, v)
}

// plainRequest reports whether v is one of the request types that decode
// may decode with JSON v2: their fields and those they hold are strings,
// numbers, lists and pointers, without JSON methods.
func plainRequest(v any) bool {
	switch v.(type) {
	case *putOIRRequest, *putConstraintRequest, *putSubscriptionRequest, *queryRequest:
		return true
	}
	return false
}

// errReader is a reader that fails with err.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// decodeStream decodes one JSON value from body into v with encoding/json,
// and answers a body that is not one value of v's type.
func decodeStream(body io.Reader, v any) error {
	dec := json.NewDecoder(body)
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errorf(http.StatusRequestEntityTooLarge, "the body is over %d bytes", maxBody)
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return errorf(http.StatusBadRequest, "malformed body: %s has the wrong type (%s)", te.Field, te.Value)
		}
		if errors.Is(err, io.EOF) {
			return errorf(http.StatusBadRequest, "malformed body: empty")
		}
		return errorf(http.StatusBadRequest, "malformed body: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errorf(http.StatusBadRequest, "malformed body: more than one JSON value")
	}
	return nil
}

// no413 turns a 413 into a 400, for the operations whose answers in
// utm.yaml have no 413 (subscriptions, availability, reports): a body or
// a polygon too large is then a bad request.
func no413(err error) error {
	if ae, ok := err.(*apiError); ok && ae.status == http.StatusRequestEntityTooLarge {
		return &apiError{status: http.StatusBadRequest, body: ae.body}
	}
	return err
}

// isUUIDv4 reports whether s is a UUIDv4 as utm.yaml's pattern has it:
// ^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-4[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$
func isUUIDv4(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		case 14:
			if c != '4' {
				return false
			}
		case 19:
			if c != '8' && c != '9' && c != 'a' && c != 'b' && c != 'A' && c != 'B' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// entityID checks an ID of the path: a UUIDv4, as utm.yaml fixes.
func entityID(what, s string) (string, error) {
	if !isUUIDv4(s) {
		return "", errorf(http.StatusBadRequest, "%s %q is not a UUIDv4", what, s)
	}
	return strings.ToLower(s), nil
}

// Limits of F3548 entities, as the InterUSS DSS applies them.
const (
	maxSubscriptionDuration = 24 * time.Hour
	maxVolumes              = 100
)

// parseExtents validates the extents of an OIR or constraint: every
// volume with its times and altitudes, the latest end in the future.
func parseExtents(extents []dc.Volume4D, now time.Time) ([]dc.Volume4D, []geo.Volume, time.Time, time.Time, error) {
	var zeroT time.Time
	if len(extents) == 0 {
		return nil, nil, zeroT, zeroT, errorf(http.StatusBadRequest, "extents: at least one volume is required")
	}
	if len(extents) > maxVolumes {
		return nil, nil, zeroT, zeroT, errorf(http.StatusRequestEntityTooLarge, "extents: at most %d volumes", maxVolumes)
	}
	vols, err := geo.ParseVolumes(extents, "extents")
	if err != nil {
		return nil, nil, zeroT, zeroT, geoError(err)
	}
	start, end := span(vols)
	if !end.After(now) {
		return nil, nil, zeroT, zeroT, errorf(http.StatusBadRequest, "extents: the latest time_end (%s) is in the past", end.Format(time.RFC3339))
	}
	return mechanism.CanonicalVolumes(extents, vols), vols, start, end, nil
}

// parseArea validates an area_of_interest or a subscription's extents,
// where F3548 lets times and altitudes out: a missing start is now, a
// missing end is start plus defaultEnd, missing altitudes are unbounded.
func parseArea(field string, v *dc.Volume4D, now time.Time, defaultEnd time.Duration) (dc.Volume4D, []geo.Volume, error) {
	if v == nil {
		return dc.Volume4D{}, nil, errorf(http.StatusBadRequest, "%s is required", field)
	}
	w := *v
	if w.TimeStart == nil {
		w.TimeStart = &dc.Time{Value: now.Format(time.RFC3339Nano), Format: "RFC3339"}
	}
	if w.TimeEnd == nil {
		start, err := time.Parse(time.RFC3339Nano, w.TimeStart.Value)
		if err != nil {
			return dc.Volume4D{}, nil, errorf(http.StatusBadRequest, "%s.time_start.value: %q is not an RFC 3339 time", field, w.TimeStart.Value)
		}
		w.TimeEnd = &dc.Time{Value: start.Add(defaultEnd).Format(time.RFC3339Nano), Format: "RFC3339"}
	}
	if w.Volume.AltitudeLower == nil {
		w.Volume.AltitudeLower = &dc.Altitude{Value: dc.Float(geo.MinAltitudeM), Reference: "W84", Units: "M"}
	}
	if w.Volume.AltitudeUpper == nil {
		w.Volume.AltitudeUpper = &dc.Altitude{Value: dc.Float(geo.MaxAltitudeM), Reference: "W84", Units: "M"}
	}
	vols, err := geo.ParseVolumes([]dc.Volume4D{w}, field)
	if err != nil {
		return dc.Volume4D{}, nil, geoError(err)
	}
	// The path names volumes[0]; there is one volume here.
	return mechanism.CanonicalVolumes([]dc.Volume4D{w}, vols)[0], vols, nil
}

// geoError turns a validation error of package geo into a 400 (or 413)
// naming the field.
func geoError(err error) error {
	var e *dc.Error
	if errors.As(err, &e) {
		msg := e.Message
		if e.Field != "" {
			msg = e.Field + ": " + msg
		}
		status := http.StatusBadRequest
		if e.Code == dc.ETooLarge {
			status = http.StatusRequestEntityTooLarge
		}
		return errorf(status, "%s", msg)
	}
	return errorf(http.StatusBadRequest, "%v", err)
}

func span(vols []geo.Volume) (start, end time.Time) {
	for i, v := range vols {
		if i == 0 || v.Start.Before(start) {
			start = v.Start
		}
		if i == 0 || v.End.After(end) {
			end = v.End
		}
	}
	return start.UTC(), end.UTC()
}

// checkBaseURL checks a uss_base_url: an absolute http(s) URL.
func checkBaseURL(field, s string) error {
	if s == "" {
		return errorf(http.StatusBadRequest, "%s is required", field)
	}
	if !(strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://")) || len(s) > 2048 {
		return errorf(http.StatusBadRequest, "%s %q is not an http(s) URL", field, s)
	}
	return nil
}

func apiTime(t time.Time) api.Time { return api.Time{Value: t.UTC(), Format: "RFC3339"} }

func apiUUID(s string) uuid.UUID {
	u, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil
	}
	return u
}

// oirRef is the reference of o as caller sees it: the OVN only for its
// manager. Called with st.mu held.
func (d *DSS) oirRef(o *oir, caller string) api.OperationalIntentReference {
	return oirRefAs(o, caller, d.availabilityOf(o.Manager))
}

// oirRefAs is oirRef, given the availability of o's manager.
func oirRefAs(o *oir, caller string, avail api.UssAvailabilityState) api.OperationalIntentReference {
	var r api.OperationalIntentReference
	_ = r.Id.FromUUIDv4Format(apiUUID(o.ID))
	r.Manager = o.Manager
	r.Ovn = &api.OperationalIntentReference_Ovn{}
	_ = r.Ovn.FromEntityOVN(ovnFor(o.Manager, o.OVN, caller))
	r.State = api.OperationalIntentState(o.State)
	sub := o.SubscriptionID
	if sub == "" {
		sub = nullSubscription
	}
	_ = r.SubscriptionId.FromSubscriptionID(subID(sub))
	_ = r.TimeStart.FromTime(apiTime(o.Start))
	_ = r.TimeEnd.FromTime(apiTime(o.End))
	r.UssAvailability = avail
	_ = r.UssBaseUrl.FromUssBaseURL(o.USSBaseURL)
	r.Version = o.Version
	return r
}

// ovnFor is the OVN of a reference as caller sees it: the OVN itself
// for its manager, noOVN for any other USS, as F3548 hides it.
func ovnFor(manager, ovn, caller string) string {
	if manager == caller {
		return ovn
	}
	return noOVN
}

func subID(s string) api.SubscriptionID {
	var id api.SubscriptionID
	_ = id.FromUUIDv4Format(apiUUID(s))
	return id
}

// constraintRef is the reference of c as caller sees it.
func (d *DSS) constraintRef(c *constraint, caller string) api.ConstraintReference {
	var r api.ConstraintReference
	_ = r.Id.FromUUIDv4Format(apiUUID(c.ID))
	r.Manager = c.Manager
	r.Ovn = &api.ConstraintReference_Ovn{}
	_ = r.Ovn.FromEntityOVN(ovnFor(c.Manager, c.OVN, caller))
	r.TimeStart, r.TimeEnd = apiTime(c.Start), apiTime(c.End)
	r.UssAvailability = d.availabilityOf(c.Manager)
	_ = r.UssBaseUrl.FromUssBaseURL(c.USSBaseURL)
	r.Version = c.Version
	return r
}

// subscriptionOut is the wire form of a subscription.
func (d *DSS) subscriptionOut(s *subscription) api.Subscription {
	var r api.Subscription
	r.Id = subID(s.ID)
	deps := []api.EntityID{}
	for _, id := range sortedKeys(d.st.dependents[s.ID]) {
		var e api.EntityID
		_ = e.FromUUIDv4Format(apiUUID(id))
		deps = append(deps, e)
	}
	r.DependentOperationalIntents = &deps
	r.ImplicitSubscription = &s.Implicit
	r.NotificationIndex = s.NotificationIndex
	r.NotifyForConstraints = &s.NotifyForCons
	r.NotifyForOperationalIntents = &s.NotifyForOIRs
	r.TimeStart = &api.Subscription_TimeStart{}
	_ = r.TimeStart.FromTime(apiTime(s.Start))
	r.TimeEnd = &api.Subscription_TimeEnd{}
	_ = r.TimeEnd.FromTime(apiTime(s.End))
	_ = r.UssBaseUrl.FromUssBaseURL(s.USSBaseURL)
	r.Version = s.Version
	return r
}
