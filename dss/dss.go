package dss

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/dss/api"
	"github.com/deconflict/deconflict/geo"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/golang/geo/s2"
)

//go:generate go tool oapi-codegen -generate types -package api -o api/api.gen.go utm.yaml

// DSS serves the strategic-coordination interface of an ASTM F3548-21
// Discovery and Synchronization Service under /dss/v1/, over the
// mechanism's airspace.
type DSS struct {
	m        *mechanism.Mechanism
	st       *state
	verifier *Verifier
	now      func() time.Time
	log      *slog.Logger
	mux      *http.ServeMux
	parties  sync.Map     // USS (token sub) -> its party ID, once the party exists
	scanned  atomic.Int64 // events after the cursor seen to hold no /v1 change (follow.go)

	retention time.Duration // how long a record is kept after its end (purge.go)
	purgeNext atomic.Int64  // the change number the last purge pass saw: the next pass's horizon
}

// Options configure a DSS. Zero values take defaults.
type Options struct {
	Now    func() time.Time
	Logger *slog.Logger
	// Retention is how long after its end an operational intent,
	// constraint or subscription is kept (purge.go); DefaultRetention if
	// zero.
	Retention time.Duration
}

// New loads the DSS's records from the mechanism's store and returns the
// DSS, registered as the mechanism's companion. The store must keep DSS
// records (deconflict.DSSTx).
func New(ctx context.Context, m *mechanism.Mechanism, v *Verifier, opts Options) (*DSS, error) {
	st, err := load(ctx, m.Store())
	if err != nil {
		return nil, fmt.Errorf("load dss: %w", err)
	}
	d := &DSS{m: m, st: st, verifier: v, now: opts.Now, log: opts.Logger, retention: opts.Retention}
	if d.retention <= 0 {
		d.retention = DefaultRetention
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	m.Attachments().SetCompanion(st)
	m.Attachments().SetNoReceipts(IsUSSParty)
	d.routes()
	return d, nil
}

// Len returns the number of operational intent references kept.
func (d *DSS) Len() int {
	d.st.mu.RLock()
	defer d.st.mu.RUnlock()
	return len(d.st.oirs)
}

// ServeHTTP serves /dss/v1/.
func (d *DSS) ServeHTTP(w http.ResponseWriter, r *http.Request) { d.mux.ServeHTTP(w, r) }

// handler answers a request of a verified caller with a status and a
// body, or an error (an *apiError, or anything else for a 500).
type handler func(r *http.Request, c *Caller) (int, any, error)

// Scope sets: an operation is allowed with every scope of any one set,
// as the security sections of utm.yaml list them.
var (
	scdOrCMSA       = [][]string{{ScopeStrategicCoordination}, {ScopeConformanceMonitoring}}
	constraintRead  = [][]string{{ScopeConstraintManagement}, {ScopeConstraintProcessing}}
	constraintWrite = [][]string{{ScopeConstraintManagement}}
	subscriptionAny = [][]string{{ScopeConstraintProcessing}, {ScopeStrategicCoordination}}
	reportAny       = [][]string{{ScopeConstraintManagement}, {ScopeConstraintProcessing}, {ScopeStrategicCoordination}, {ScopeConformanceMonitoring}, {ScopeAvailabilityArbitation}}
	availabilitySet = [][]string{{ScopeAvailabilityArbitation}}
	availabilityGet = [][]string{{ScopeAvailabilityArbitation}, {ScopeStrategicCoordination}, {ScopeConformanceMonitoring}}
)

func (d *DSS) routes() {
	d.mux = http.NewServeMux()
	const oir, con, sub = "/dss/v1/operational_intent_references", "/dss/v1/constraint_references", "/dss/v1/subscriptions"
	d.handle("POST "+oir+"/query", scdOrCMSA, d.queryOIRs)
	d.handle("GET "+oir+"/{entityid}", scdOrCMSA, d.getOIR)
	d.handle("PUT "+oir+"/{entityid}", scdOrCMSA, d.putOIR)
	d.handle("PUT "+oir+"/{entityid}/{ovn}", scdOrCMSA, d.putOIR)
	d.handle("DELETE "+oir+"/{entityid}/{ovn}", scdOrCMSA, d.deleteOIR)
	d.handle("POST "+con+"/query", constraintRead, d.queryConstraints)
	d.handle("GET "+con+"/{entityid}", constraintRead, d.getConstraint)
	d.handle("PUT "+con+"/{entityid}", constraintWrite, d.putConstraint)
	d.handle("PUT "+con+"/{entityid}/{ovn}", constraintWrite, d.putConstraint)
	d.handle("DELETE "+con+"/{entityid}/{ovn}", constraintWrite, d.deleteConstraint)
	d.handle("POST "+sub+"/query", subscriptionAny, d.querySubscriptions)
	d.handle("GET "+sub+"/{subscriptionid}", subscriptionAny, d.getSubscription)
	d.handle("PUT "+sub+"/{subscriptionid}", subscriptionAny, d.putSubscription)
	d.handle("PUT "+sub+"/{subscriptionid}/{version}", subscriptionAny, d.putSubscription)
	d.handle("DELETE "+sub+"/{subscriptionid}/{version}", subscriptionAny, d.deleteSubscription)
	d.handle("POST /dss/v1/reports", reportAny, d.report)
	d.handle("GET "+mechanismBase+"/uss/v1/constraints/{entityid}", [][]string{{ScopeConstraintProcessing}}, d.getOperationDetails)
	d.handle("GET /dss/v1/uss_availability/{uss_id}", availabilityGet, d.getAvailability)
	d.handle("PUT /dss/v1/uss_availability/{uss_id}", availabilitySet, d.setAvailability)
	d.mux.HandleFunc("/dss/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, api.ErrorResponse{Message: ptr("no such DSS endpoint: " + r.Method + " " + r.URL.Path)})
	})
}

// handle registers h behind authentication and the scope check.
func (d *DSS) handle(pattern string, scopes [][]string, h handler) {
	d.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		c, err := d.verifier.Verify(r.Header.Get("Authorization"))
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			writeJSON(w, http.StatusUnauthorized, api.ErrorResponse{Message: ptr(err.Error())})
			return
		}
		allowed := false
		for _, set := range scopes {
			allowed = allowed || c.Has(set...)
		}
		if !allowed {
			var want []string
			for _, set := range scopes {
				want = append(want, strings.Join(set, "+"))
			}
			writeJSON(w, http.StatusForbidden, api.ErrorResponse{Message: ptr("the access token lacks the scope this operation requires: one of " + strings.Join(want, ", "))})
			return
		}
		status, body, err := h(r, c)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) {
				ae = d.fromMechanism(err)
			}
			writeJSON(w, ae.status, ae.body)
			return
		}
		writeJSON(w, status, body)
	})
}

// fromMechanism maps an error of the mechanism or the store to an answer.
func (d *DSS) fromMechanism(err error) *apiError {
	var e *dc.Error
	if errors.As(err, &e) {
		switch e.Code {
		case dc.EInvalid:
			return errorf(http.StatusBadRequest, "%s", fieldMessage(e))
		case dc.ETooLarge:
			return errorf(http.StatusRequestEntityTooLarge, "%s", fieldMessage(e))
		case dc.EPermission:
			return errorf(http.StatusForbidden, "%s", e.Message)
		case dc.ENotFound:
			return errorf(http.StatusNotFound, "%s", e.Message)
		case dc.EConflictUnresolved, dc.EInvalidTransition, dc.EVersionMismatch, dc.EExists:
			return errorf(http.StatusConflict, "%s", e.Message)
		}
	}
	id := fmt.Sprintf("%08x", time.Now().UnixNano()&0xffffffff)
	d.log.Error("dss request failed", slog.String("error_id", id), slog.Any("error", err))
	return errorf(http.StatusInternalServerError, "internal error %s", id)
}

func fieldMessage(e *dc.Error) string {
	if e.Field != "" {
		return e.Field + ": " + e.Message
	}
	return e.Message
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	b, ok := body.(encodedJSON)
	if !ok {
		var err error
		if b, err = json.Marshal(body); err != nil {
			status, b = http.StatusInternalServerError, []byte(`{"message":"encode answer"}`)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func ptr[T any](v T) *T { return &v }

// PartyOf returns the ID of the mechanism party that stands for a USS
// (the sub of its tokens): "uss-" and the sub when it is a valid party
// ID as it stands and holds no "--", else "uss-", a readable prefix, "--"
// and a hash of the sub. Two subs never share a party: a hashed ID holds
// a "--" after its first character that no sub kept as it stands holds.
func PartyOf(sub string) string {
	s := strings.ToLower(sub)
	var b strings.Builder
	for _, r := range s {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	clean := b.String()
	if clean == sub && len(clean) <= 28 && !strings.Contains(clean, "--") {
		return "uss-" + clean
	}
	h := sha256.Sum256([]byte(sub))
	if len(clean) > 14 {
		clean = clean[:14]
	}
	return "uss-" + clean + "--" + hex.EncodeToString(h[:6])
}

// IsUSSParty reports whether a party stands for a USS: its ID begins
// "uss-", a prefix the DSS interface reserves. USSs answer through F3548,
// which has no acknowledgement, so they give no receipts
// (mechanism.Attachments.SetNoReceipts).
func IsUSSParty(id string) bool { return strings.HasPrefix(id, "uss-") }

// actor returns the mechanism actor of a USS, creating its party the
// first time.
func (d *DSS) actor(ctx context.Context, sub string) (dc.Actor, error) {
	id := PartyOf(sub)
	a := dc.Actor{Party: id, Role: dc.RoleOperator}
	if _, ok := d.parties.Load(sub); ok {
		return a, nil
	}
	name := sub
	if len(name) > 200 {
		name = name[:200]
	}
	if _, err := d.m.Access().AddParty(ctx, id, "USS "+name); err != nil && dc.ErrorCode(err) != dc.EExists {
		return a, err
	}
	d.parties.Store(sub, id)
	return a, nil
}

// attachment returns the attachment of a DSS write: check (if any) runs
// after the DSS caught up with what other processes committed, then
// write.
func (d *DSS) attachment(check func(ctx context.Context, tx dc.Tx) error, write func(ctx context.Context, tx dc.Tx) error) *mechanism.Attachment {
	return &mechanism.Attachment{
		Check: func(ctx context.Context, tx dc.Tx) error {
			if err := d.st.catchUp(ctx, tx); err != nil {
				return err
			}
			if check == nil {
				return nil
			}
			return check(ctx, tx)
		},
		Write: func(ctx context.Context, tx dc.Tx, _ *mechanism.Result) error { return write(ctx, tx) },
	}
}

// refresh brings the DSS's memory up to what the store holds, for a read.
func (d *DSS) refresh(r *http.Request) error { return d.st.refresh(r.Context(), d.m.Store()) }

// availabilityOf returns a USS's arbitrated availability (Unknown if none
// was set). Called with st.mu held.
func (d *DSS) availabilityOf(uss string) api.UssAvailabilityState {
	if a := d.st.avail[uss]; a != nil {
		return api.UssAvailabilityState(a.State)
	}
	return api.Unknown
}

// intersecting returns the IDs of the index's entries that intersect
// vols in 4D.
func intersecting(ix *geo.Index, vols []geo.Volume) []string {
	hits := ix.Conflicts(vols, zero, "")
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.ID
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// maxAreaKm2 bounds the area of a footprint, as the InterUSS DSS bounds
// it: F3548 leaves the limit to the DSS, and an intent or subscription
// over a region would make every change there notify it.
const maxAreaKm2 = 2500

// checkArea refuses a volume whose footprint's area is over maxAreaKm2,
// with status (413 where utm.yaml has it, else 400). The volumes were
// validated by package geo.
func checkArea(vols []dc.Volume4D, field string, status int) error {
	for i, v := range vols {
		if a := areaKm2(v.Volume); a > maxAreaKm2 {
			return errorf(status, "%s[%d]: the area is %.0f km², over the limit of %d km²", field, i, a, maxAreaKm2)
		}
	}
	return nil
}

// areaKm2 returns the area of a validated footprint on the sphere of
// package geo: a spherical cap, or the smaller region a ring bounds.
func areaKm2(v dc.Volume3D) float64 {
	r := geo.EarthRadiusM / 1000
	if c := v.OutlineCircle; c != nil {
		return 2 * math.Pi * r * r * (1 - math.Cos(*c.Radius.Value/geo.EarthRadiusM))
	}
	pts := ringOf(v.OutlinePolygon)
	if len(pts) < 3 {
		return 0
	}
	a := s2.LoopFromPoints(pts).Area()
	return min(a, 4*math.Pi-a) * r * r
}
