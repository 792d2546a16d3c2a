package forward

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/mechanism"
)

// Handler returns the writer's side of the channel: it takes the
// declarations other replicas hand over, while holding reports that this
// replica holds the writer lease, runs them (mechanism.ApplyForwarded)
// and answers their outcomes, signed. A request whose signature does not
// verify is answered 401 and nothing else; one that arrives while this
// replica does not hold the lease, or that it cannot read, is answered
// with a signed refusal: nothing of it was applied.
func Handler(m *mechanism.Mechanism, secret []byte, holding func() bool, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+Path, func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			http.Error(w, "read the body: "+err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		reqSig := r.Header.Get(SignatureHeader)
		if err := verify(secret, "request", reqSig, time.Now(), "", raw); err != nil {
			log.Warn("a hand-over of declarations refused", slog.String("from", r.RemoteAddr), slog.Any("error", err))
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		answerWith := func(status int, a answer) {
			body, _ := json.Marshal(a)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set(SignatureHeader, sign(secret, "answer", time.Now(), reqSig, body))
			w.WriteHeader(status)
			_, _ = w.Write(body)
		}
		if !holding() {
			// The connection closes after the answer: the sender, told
			// to write here for a while, then holds no idle connection
			// that this replica could close under a request.
			w.Header().Set("Connection", "close")
			answerWith(http.StatusConflict, answer{Refused: notWriter})
			return
		}
		var req request
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil || len(req.Declarations) == 0 {
			if err == nil {
				err = errors.New("no declarations")
			}
			answerWith(http.StatusBadRequest, answer{Refused: "unreadable: " + err.Error()})
			return
		}
		outs := m.ApplyForwarded(r.Context(), fromWire(req))
		a := answer{Outcomes: make([]outcome, len(outs))}
		for i, o := range outs {
			var e *dc.Error
			if o.Err != nil && !errors.As(o.Err, &e) {
				log.Error("a declaration handed over failed", slog.String("id", req.Declarations[i].ID), slog.Any("error", o.Err))
			}
			a.Outcomes[i] = outcomeOf(o)
		}
		answerWith(http.StatusOK, a)
	})
	return mux
}
