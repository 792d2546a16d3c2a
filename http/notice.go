package http

import (
	"net/http"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/mechanism"
)

func (s *Server) ackOperation(w http.ResponseWriter, r *http.Request, a dc.Actor) {
	var body struct {
		Version *int   `json:"version"`
		Signed  string `json:"signed"`
	}
	if err := decode(w, r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	if body.Version == nil {
		s.writeError(w, r, dc.FieldErrorf(dc.EInvalid, "version", "version is required"))
		return
	}
	rec, err := s.mech.AckOperation(r.Context(), a, pathID(r), *body.Version, body.Signed)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"receipt": rec})
}

func (s *Server) listEscalations(w http.ResponseWriter, r *http.Request, a dc.Actor) {
	open := false
	switch r.URL.Query().Get("status") {
	case "", "all":
	case "open":
		open = true
	default:
		s.writeError(w, r, dc.FieldErrorf(dc.EInvalid, "status", "status must be open or all"))
		return
	}
	limit, after, err := queryPage(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	es, next, err := s.mech.Duty().EscalationsPage(r.Context(), a, open, limit, after)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Escalations []*dc.Duty `json:"escalations"`
		Next        string     `json:"next,omitempty"`
	}{es, next})
}

func (s *Server) sendMessage(w http.ResponseWriter, r *http.Request, a dc.Actor) {
	var out mechanism.Outgoing
	if err := decode(w, r, &out); err != nil {
		s.writeError(w, r, err)
		return
	}
	msg, err := s.mech.Hotline().SendMessage(r.Context(), a, out)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"message": msg})
}

func (s *Server) lineCheck(w http.ResponseWriter, r *http.Request, a dc.Actor) {
	if err := decodeOptional(w, r); err != nil {
		s.writeError(w, r, err)
		return
	}
	msg, err := s.mech.Hotline().LineCheck(r.Context(), a)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"message": msg})
}

func (s *Server) listMessages(w http.ResponseWriter, r *http.Request, a dc.Actor) {
	var f dc.MessageFilter
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
	msgs, next, err := s.mech.Hotline().Messages(r.Context(), a, f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	l := s.startList(w, "messages")
	for _, m := range msgs {
		l.item(m)
	}
	s.endList(r, l, next)
}

func (s *Server) ackMessage(w http.ResponseWriter, r *http.Request, a dc.Actor) {
	if err := decodeOptional(w, r); err != nil {
		s.writeError(w, r, err)
		return
	}
	msg, err := s.mech.Hotline().AckMessage(r.Context(), a, pathID(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"message": msg})
}

func (s *Server) putWebhook(w http.ResponseWriter, r *http.Request, a dc.Actor) {
	var sub mechanism.Subscription
	if err := decode(w, r, &sub); err != nil {
		s.writeError(w, r, err)
		return
	}
	wh, secret, created, err := s.mech.Webhooks().Put(r.Context(), a, r.PathValue("name"), sub)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if created {
		writeJSON(w, http.StatusCreated, map[string]any{"webhook": wh, "secret": secret})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"webhook": wh})
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request, a dc.Actor) {
	limit, after, err := queryPage(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ws, err := s.mech.Webhooks().List(r.Context(), a)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page, next, err := pageOf(ws, func(w *dc.Webhook) string { return w.Party + "\x00" + w.Name }, limit, after)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Webhooks []*dc.Webhook `json:"webhooks"`
		Next     string        `json:"next,omitempty"`
	}{page, next})
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request, a dc.Actor) {
	if err := s.mech.Webhooks().Delete(r.Context(), a, r.PathValue("name")); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"deleted": r.PathValue("name")})
}
