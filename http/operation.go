package http

import (
	"encoding/base64"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/mechanism"
)

// operationBody is the answer about one operation.
type operationBody struct {
	Operation *dc.Operation  `json:"operation"`
	Conflicts []*dc.Conflict `json:"conflicts,omitempty"`
}

func (s *Server) writeResult(w http.ResponseWriter, status int, res *mechanism.Result) {
	w.Header().Set("ETag", etag(res.Operation.Version))
	conflicts := res.Conflicts
	if conflicts == nil {
		conflicts = []*dc.Conflict{}
	}
	writeJSON(w, status, struct {
		Operation *dc.Operation  `json:"operation"`
		Conflicts []*dc.Conflict `json:"conflicts"`
	}{res.Operation, conflicts})
}

func (s *Server) putOperation(w http.ResponseWriter, r *http.Request, a dc.Actor) {
	var d mechanism.Declaration
	if err := decode(w, r, &d); err != nil {
		s.writeError(w, r, err)
		return
	}
	ifMatch, err := parseIfMatch(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.mech.Declare(r.Context(), a, pathID(r), d, ifMatch)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if res.Created {
		status = http.StatusCreated
	}
	s.writeResult(w, status, res)
}

func (s *Server) getOperation(w http.ResponseWriter, r *http.Request, a dc.Actor) {
	res, err := s.mech.Operation(r.Context(), a, pathID(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeResult(w, http.StatusOK, res)
}

func (s *Server) deleteOperation(w http.ResponseWriter, r *http.Request, a dc.Actor) {
	ifMatch, err := parseIfMatch(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.mech.Cancel(r.Context(), a, pathID(r), ifMatch)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(res.Operation.Version))
	writeJSON(w, http.StatusOK, operationBody{Operation: res.Operation})
}

func (s *Server) listOperations(w http.ResponseWriter, r *http.Request, a dc.Actor) {
	q := r.URL.Query()
	var (
		oq  mechanism.OperationQuery
		err error
	)
	oq.Party = q.Get("party")
	for _, st := range q["state"] {
		for _, one := range strings.Split(st, ",") {
			state := dc.State(strings.TrimSpace(one))
			if !state.Valid() {
				s.writeError(w, r, dc.FieldErrorf(dc.EInvalid, "state", "unknown state %q", one))
				return
			}
			oq.States = append(oq.States, state)
		}
	}
	if oq.Start, err = queryTime(q.Get("start"), "start"); err == nil {
		oq.End, err = queryTime(q.Get("end"), "end")
	}
	if err == nil && !oq.Start.IsZero() && !oq.End.IsZero() && oq.End.Before(oq.Start) {
		err = dc.FieldErrorf(dc.EInvalid, "end", "end is before start")
	}
	if err == nil {
		oq.BBox, err = queryBBox(q.Get("bbox"))
	}
	if err == nil {
		oq.Limit, oq.After, err = queryPage(r)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.acquireList(r.Context()); err != nil {
		return // the client is gone
	}
	defer s.releaseList()
	oq.MaxBytes = dc.MaxPageBytes
	ops, next, err := s.mech.Operations(r.Context(), a, oq)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	l := s.startList(w, "operations")
	for _, op := range ops {
		l.item(op)
	}
	s.endList(r, l, next)
}

func queryTime(v, name string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return t, dc.FieldErrorf(dc.EInvalid, name, "%s must be an RFC 3339 time such as 2026-11-25T12:00:00Z", name)
	}
	return t, nil
}

// queryBBox parses bbox=minlng,minlat,maxlng,maxlat. A box whose minlng is
// greater than its maxlng crosses the antimeridian.
func queryBBox(v string) (*mechanism.BBox, error) {
	if v == "" {
		return nil, nil
	}
	parts := strings.Split(v, ",")
	bad := dc.FieldErrorf(dc.EInvalid, "bbox", "bbox must be minlng,minlat,maxlng,maxlat in degrees, latitudes in [-90, 90], longitudes in [-180, 180], minlat <= maxlat")
	if len(parts) != 4 {
		return nil, bad
	}
	var n [4]float64
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || f != f {
			return nil, bad
		}
		n[i] = f
	}
	minLng, minLat, maxLng, maxLat := n[0], n[1], n[2], n[3]
	if minLat < -90 || maxLat > 90 || minLat > maxLat || minLng < -180 || minLng > 180 || maxLng < -180 || maxLng > 180 {
		return nil, bad
	}
	return &mechanism.BBox{MinLng: minLng, MinLat: minLat, MaxLng: maxLng, MaxLat: maxLat}, nil
}

// pathID returns the {id} of the request's path. A UUID is taken in any
// case and answered in its canonical lower-case form, as it is stored:
// UUIDs are case-insensitive, and some clients write them in capitals.
func pathID(r *http.Request) string {
	id := r.PathValue("id")
	if lower := strings.ToLower(id); lower != id && dc.ValidID(lower) {
		return lower
	}
	return id
}

// pageOf pages a short list held whole, in the order of key: up to limit
// items after the cursor, and the cursor of the next page ("" after the
// last). A cursor is the key of the last item of its page, so a page stays
// right when items come or go between requests.
func pageOf[T any](items []T, key func(T) string, limit int, after string) ([]T, string, error) {
	items = append([]T{}, items...)
	slices.SortFunc(items, func(a, b T) int { return strings.Compare(key(a), key(b)) })
	from := 0
	if after != "" {
		k, err := base64.RawURLEncoding.DecodeString(after)
		if err != nil {
			return nil, "", dc.FieldErrorf(dc.EInvalid, "after", "after is not a cursor of this list")
		}
		from = sort.Search(len(items), func(i int) bool { return key(items[i]) > string(k) })
	}
	page := items[from:]
	if len(page) <= limit {
		return slices.Clip(page), "", nil
	}
	page = page[:limit]
	return page, base64.RawURLEncoding.EncodeToString([]byte(key(page[limit-1]))), nil
}

// queryPage reads limit (default 1000, at most 10,000) and after.
func queryPage(r *http.Request) (int, string, error) {
	q := r.URL.Query()
	limit := 1000
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			return 0, "", dc.FieldErrorf(dc.EInvalid, "limit", "limit must be a whole number from 1 to 10000")
		}
		limit = n
	}
	return limit, q.Get("after"), nil
}
