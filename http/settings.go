package http

import (
	"net/http"
	"strconv"

	dc "github.com/deconflict/deconflict"
)

func (s *Server) getSettings(w http.ResponseWriter, r *http.Request, a dc.Actor) {
	st, err := s.mech.Settings(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// settingsPatch is the body of PUT /v1/settings; fields left out keep
// their value.
type settingsPatch struct {
	HorizontalM *float64 `json:"horizontal_m"`
	VerticalM   *float64 `json:"vertical_m"`
	TimeS       *float64 `json:"time_s"`
	NoticeS     *float64 `json:"notice_s"`
	AckTimeoutS *float64 `json:"ack_timeout_s"`
}

func (s *Server) putSettings(w http.ResponseWriter, r *http.Request, a dc.Actor) {
	if !a.Is(dc.RoleAdmin) {
		s.writeError(w, r, dc.Errorf(dc.EPermission, "only an admin may change the settings"))
		return
	}
	var p settingsPatch
	if err := decode(w, r, &p); err != nil {
		s.writeError(w, r, err)
		return
	}
	st, err := s.mech.Settings(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	for _, f := range []struct {
		from *float64
		to   *float64
	}{{p.HorizontalM, &st.HorizontalM}, {p.VerticalM, &st.VerticalM}, {p.TimeS, &st.TimeS}, {p.NoticeS, &st.NoticeS}, {p.AckTimeoutS, &st.AckTimeoutS}} {
		if f.from != nil {
			*f.to = *f.from
		}
	}
	if st, err = s.mech.PutSettings(r.Context(), a, st); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) check(w http.ResponseWriter, r *http.Request, a dc.Actor) {
	var body struct {
		Volumes []dc.Volume4D `json:"volumes"`
	}
	if err := decode(w, r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	hits, err := s.mech.Check(r.Context(), a, body.Volumes)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"conflicts": hits})
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
	ps, err := s.mech.Parties(r.Context())
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
	evs, err := s.mech.Events(r.Context(), a, after, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": eventList(evs)})
}
