package dss

import (
	"net/http"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/geo"
)

// The first steps the handlers of the DSS take alike, before they look
// at the state: check what the request names; a read then brings the
// state up to date with the store, a delete finds whom it acts for.

// readEntity returns the ID in the path parameter param (an error naming
// it if it is not one), with the state brought up to date.
func (d *DSS) readEntity(r *http.Request, param string) (string, error) {
	id, err := entityID(param, r.PathValue(param))
	if err != nil {
		return "", err
	}
	if err := d.refresh(r); err != nil {
		return "", err
	}
	return id, nil
}

// readQuery returns the time of a query of an area of interest and the
// volumes of its area, with the state brought up to date. An area
// without an end looks queryHorizon ahead; one over maxAreaKm2 is refused
// with 413, as utm.yaml has it for queries.
func (d *DSS) readQuery(r *http.Request) (time.Time, []geo.Volume, error) {
	var req queryRequest
	if err := decode(r, &req); err != nil {
		return time.Time{}, nil, err
	}
	now := d.now().UTC()
	aoi, vols, err := parseArea("area_of_interest", req.AreaOfInterest, now, queryHorizon)
	if err != nil {
		return time.Time{}, nil, err
	}
	if err := checkArea([]dc.Volume4D{aoi}, "area_of_interest", http.StatusRequestEntityTooLarge); err != nil {
		return time.Time{}, nil, err
	}
	if err := d.refresh(r); err != nil {
		return time.Time{}, nil, err
	}
	return now, vols, nil
}

// deleteRequest returns what a delete names: the ID in path parameter
// idParam, the version or OVN the entity must be at (path parameter
// atParam, compared by the delete itself), and the caller as the actor
// of the write.
func (d *DSS) deleteRequest(r *http.Request, c *Caller, idParam, atParam string) (id, at string, a dc.Actor, err error) {
	if id, err = entityID(idParam, r.PathValue(idParam)); err != nil {
		return "", "", dc.Actor{}, err
	}
	if a, err = d.actor(r.Context(), c.Subject); err != nil {
		return "", "", dc.Actor{}, err
	}
	return id, r.PathValue(atParam), a, nil
}
