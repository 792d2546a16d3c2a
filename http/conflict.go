package http

import (
	"net/http"
	"strings"

	dc "github.com/deconflict/deconflict"
)

func (s *Server) getConflict(w http.ResponseWriter, r *http.Request, a dc.Actor) {
	c, err := s.mech.Conflict(r.Context(), a, pathID(r))
	s.writeConflict(w, r, c, err)
}

func (s *Server) ackConflict(w http.ResponseWriter, r *http.Request, a dc.Actor) {
	var body struct {
		Signed string `json:"signed"`
	}
	if r.ContentLength != 0 {
		if err := decode(w, r, &body); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	c, err := s.mech.AckConflict(r.Context(), a, pathID(r), body.Signed)
	s.writeConflict(w, r, c, err)
}

func (s *Server) waiveConflict(w http.ResponseWriter, r *http.Request, a dc.Actor) {
	if err := decodeOptional(w, r); err != nil {
		s.writeError(w, r, err)
		return
	}
	c, err := s.mech.WaiveConflict(r.Context(), a, pathID(r))
	s.writeConflict(w, r, c, err)
}

func (s *Server) writeConflict(w http.ResponseWriter, r *http.Request, c *dc.Conflict, err error) {
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]*dc.Conflict{"conflict": c})
}

// decodeOptional accepts an empty body or an empty JSON object.
func decodeOptional(w http.ResponseWriter, r *http.Request) error {
	if r.ContentLength == 0 {
		return nil
	}
	var empty struct{}
	return decode(w, r, &empty)
}

func (s *Server) listConflicts(w http.ResponseWriter, r *http.Request, a dc.Actor) {
	var f dc.ConflictFilter
	for _, st := range r.URL.Query()["status"] {
		for _, one := range strings.Split(st, ",") {
			status := dc.ConflictStatus(strings.TrimSpace(one))
			if status != dc.ConflictOpen && status != dc.ConflictResolved && status != dc.ConflictWaived {
				s.writeError(w, r, dc.FieldErrorf(dc.EInvalid, "status", "unknown status %q (want open, resolved or waived)", one))
				return
			}
			f.Statuses = append(f.Statuses, status)
		}
	}
	var err error
	if f.Limit, f.After, err = queryPage(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.acquireList(r.Context()); err != nil {
		return // the client is gone
	}
	defer s.releaseList()
	f.MaxBytes = dc.MaxPageBytes
	cs, next, err := s.mech.Conflicts(r.Context(), a, f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	l := s.startList(w, "conflicts")
	var b []byte
	for _, c := range cs {
		var ok bool
		if b, ok = appendConflict(b[:0], c); ok {
			l.raw(append(b, '\n')) // as l.item's encoder ends each item
		} else {
			l.item(c)
		}
	}
	s.endList(r, l, next)
}
