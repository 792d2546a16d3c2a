package dss

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/dss/api"
	"github.com/deconflict/deconflict/geo"
)

// The operations that parties declare on /v1 (a military reservation, a
// tanker track) are shown to USSs as constraint references, read-only:
// a constraint is what F3548 has for airspace a USS must plan around and
// cannot negotiate, which is what another party's operation is to a
// drone. They are managed by "deconflict:<party>"; their details (the
// volumes) are served at mechanismBase under the path of the USS-USS
// API, and their OVN changes with every version. A USS that processes
// constraints (its subscription notifies for them) must name their OVNs
// in its keys like any other constraint's.

// mechanismBase is the path under which the details of /v1 operations
// are served, as their uss_base_url.
const mechanismBase = "/dss/mechanism"

// managerPrefix starts the manager of a /v1 operation's constraint.
const managerPrefix = "deconflict:"

// observer reads operations as an observer does: every shared field,
// never a party's notes or unshared callsign.
var observer = dc.Actor{Role: dc.RoleObserver}

// opOVN returns the OVN of a version of a /v1 operation.
func opOVN(op *dc.Operation) string {
	h := sha256.Sum256([]byte(op.ID + "\x00" + strconv.Itoa(op.Version) + "\x00" + op.UpdatedAt.Format(time.RFC3339Nano)))
	return "deconflict-" + hex.EncodeToString(h[:16])
}

// isV1 reports whether an operation of the mechanism is a /v1 operation
// rather than the operation of a USS's intent: by its party, so that an
// intent the DSS no longer keeps (purge.go) is never shown as a
// constraint.
func isV1(op *dc.Operation) bool { return !IsUSSParty(op.Party) }

// opRef returns a /v1 operation as a constraint reference, as every USS
// sees it: without its OVN, which a USS gets with the details from the
// manager (getOperationDetails), as F3548 has it for every constraint.
func opRef(op *dc.Operation, base string) api.ConstraintReference {
	return opRefOVN(op, base, noOVN)
}

// opRefOVN returns a /v1 operation as a constraint reference showing ovn.
func opRefOVN(op *dc.Operation, base, ovn string) api.ConstraintReference {
	var r api.ConstraintReference
	_ = r.Id.FromUUIDv4Format(apiUUID(op.ID))
	r.Manager = managerPrefix + op.Party
	r.Ovn = &api.ConstraintReference_Ovn{}
	_ = r.Ovn.FromEntityOVN(ovn)
	r.TimeStart, r.TimeEnd = apiTime(op.Start), apiTime(op.End)
	r.UssAvailability = api.Normal
	_ = r.UssBaseUrl.FromUssBaseURL(base + mechanismBase)
	r.Version = int32(op.Version)
	return r
}

// baseURL returns the URL of this server as the request reached it.
func baseURL(r *http.Request) string {
	if r.TLS != nil {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

// operationsIn returns the live /v1 operations whose volumes intersect
// vols, as an observer sees them. Called without st.mu.
func (d *DSS) operationsIn(ctx context.Context, vols []geo.Volume) ([]*dc.Operation, error) {
	var out []*dc.Operation
	for _, h := range d.m.Attachments().Intersecting(vols) {
		if IsUSSParty(h.Group) {
			continue
		}
		res, err := d.m.Operation(ctx, observer, h.ID)
		if dc.ErrorCode(err) == dc.ENotFound {
			continue
		} else if err != nil {
			return nil, err
		}
		if res.Operation.State.Live() && isV1(res.Operation) {
			out = append(out, res.Operation)
		}
	}
	return out, nil
}

// operationsInTx is operationsIn inside a write transaction.
func (d *DSS) operationsInTx(ctx context.Context, tx dc.Tx, vols []geo.Volume) ([]*dc.Operation, error) {
	var out []*dc.Operation
	for _, h := range d.m.Attachments().Intersecting(vols) {
		if IsUSSParty(h.Group) {
			continue
		}
		op, err := tx.Operation(ctx, h.ID)
		if dc.ErrorCode(err) == dc.ENotFound {
			continue
		} else if err != nil {
			return nil, err
		}
		if op.State.Live() && isV1(op) {
			out = append(out, op.ViewFor(observer))
		}
	}
	return out, nil
}

// getOperationDetails serves the details of a /v1 operation as F3548's
// USS-USS API serves a constraint's (GET
// {uss_base_url}/uss/v1/constraints/{entityid}).
func (d *DSS) getOperationDetails(r *http.Request, c *Caller) (int, any, error) {
	id, err := d.readEntity(r, "entityid")
	if err != nil {
		return 0, nil, err
	}
	res, err := d.m.Operation(r.Context(), observer, id)
	if dc.ErrorCode(err) == dc.ENotFound || (err == nil && !res.Operation.State.Live()) {
		return 0, nil, errorf(http.StatusNotFound, "no live operation %s", id)
	} else if err != nil {
		return 0, nil, err
	}
	if !isV1(res.Operation) {
		return 0, nil, errorf(http.StatusNotFound, "%s is an operational intent: ask its USS", id)
	}
	// The volumes as they are kept, not through the generated types,
	// whose radius is a float32.
	op := res.Operation
	typ := "deconflict operation of party " + op.Party
	return http.StatusOK, map[string]any{"constraint": map[string]any{
		"reference": opRefOVN(op, baseURL(r), opOVN(op)),
		"details":   map[string]any{"type": typ, "volumes": op.Volumes},
	}}, nil
}
