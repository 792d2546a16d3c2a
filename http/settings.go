package http

import (
	"net/http"
	"strconv"

	dc "github.com/deconflict/deconflict"
)

func (s *Server) getSettings(w http.ResponseWriter, r *http.Request, a dc.Actor) {
	st, err := s.mech.Settings().Get(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// putSettings changes the settings the body names (dc.SettingsPatch);
// fields left out keep their value. The mechanism checks the role and
// merges the patch in its write transaction.
func (s *Server) putSettings(w http.ResponseWriter, r *http.Request, a dc.Actor) {
	var p dc.SettingsPatch
	if err := decode(w, r, &p); err != nil {
		s.writeError(w, r, err)
		return
	}
	st, err := s.mech.Settings().Patch(r.Context(), a, p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request, a dc.Actor) {
	writeJSON(w, http.StatusOK, map[string]any{"party": a.Party, "role": a.Role, "token_id": a.TokenID})
}

func (s *Server) listParties(w http.ResponseWriter, r *http.Request, a dc.Actor) {
	limit, after, err := queryPage(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ps, err := s.mech.Access().Parties(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page, next, err := pageOf(ps, func(p *dc.Party) string { return p.ID }, limit, after)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Parties []*dc.Party `json:"parties"`
		Next    string      `json:"next,omitempty"`
	}{page, next})
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request, a dc.Actor) {
	q := r.URL.Query()
	var after int64
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			s.writeError(w, r, dc.FieldErrorf(dc.EInvalid, "after", "after must be an event sequence number"))
			return
		}
		after = n
	}
	limit, _, err := queryPage(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.acquireList(r.Context()); err != nil {
		return // the client is gone
	}
	defer s.releaseList()
	evs, err := s.mech.Events(r.Context(), a, after, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	l := s.startList(w, "events")
	var b []byte
	for _, e := range evs {
		if b, err = dc.AppendEventJSON(b[:0], e); err != nil {
			s.log.ErrorContext(r.Context(), "encode event", keyError, err)
			return
		}
		l.raw(b)
	}
	s.endList(r, l, "")
}
