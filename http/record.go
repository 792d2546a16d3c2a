package http

import (
	"net/http"
	"strconv"

	dc "github.com/deconflict/deconflict"
	"golang.org/x/mod/sumdb/tlog"
)

// queryInt reads a required whole-number query parameter.
func queryInt(r *http.Request, name string) (int64, error) {
	v := r.URL.Query().Get(name)
	n, err := strconv.ParseInt(v, 10, 64)
	if v == "" || err != nil {
		return 0, dc.FieldErrorf(dc.EInvalid, name, "%s must be a whole number", name)
	}
	return n, nil
}

func (s *Server) logCheckpoint(w http.ResponseWriter, r *http.Request, a dc.Actor) {
	cp, err := s.mech.Federation().WitnessedCheckpoint(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(cp)
}

func (s *Server) logKey(w http.ResponseWriter, r *http.Request, a dc.Actor) {
	keys, err := s.mech.Record().Keys(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	current := ""
	for _, k := range keys {
		if k.RetiredAt == nil {
			current = k.Verifier
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"key": current, "keys": keys})
}

func (s *Server) logEntries(w http.ResponseWriter, r *http.Request, a dc.Actor) {
	start, err := queryInt(r, "start")
	var end int64
	if err == nil {
		end, err = queryInt(r, "end")
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.acquireList(r.Context()); err != nil {
		return // the client is gone
	}
	defer s.releaseList()
	entries, err := s.mech.Record().LogEntries(r.Context(), a, start, end)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	l := s.startList(w, "entries")
	for _, e := range entries {
		l.item(e)
	}
	s.endList(r, l, "")
}

func (s *Server) inclusionProof(w http.ResponseWriter, r *http.Request, a dc.Actor) {
	index, err := queryInt(r, "index")
	var size int64
	if err == nil {
		size, err = queryInt(r, "size")
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := s.mech.Record().InclusionProof(r.Context(), index, size)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"index": index, "size": size, "proof": hashes(p)})
}

func (s *Server) consistencyProof(w http.ResponseWriter, r *http.Request, a dc.Actor) {
	from, err := queryInt(r, "from")
	var to int64
	if err == nil {
		to, err = queryInt(r, "to")
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := s.mech.Record().ConsistencyProof(r.Context(), from, to)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"from": from, "to": to, "proof": hashes(p)})
}

// hashes returns a proof as a JSON list (never null).
func hashes(p []tlog.Hash) []tlog.Hash {
	if p == nil {
		return []tlog.Hash{}
	}
	return p
}

func (s *Server) evidence(w http.ResponseWriter, r *http.Request, a dc.Actor) {
	b, err := s.mech.Record().Evidence(r.Context(), a, pathID(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Disposition", `attachment; filename="evidence-`+pathID(r)+`.json"`)
	writeJSON(w, http.StatusOK, b)
}
