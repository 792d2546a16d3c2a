package forward

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/mechanism"
)

// Handler returns the writer's side of the channel: it takes the
// declarations other replicas hand over, while holding reports that this
// replica holds the writer lease, runs them (mechanism.Replicas.ApplyForwarded)
// and answers their outcomes, signed. A request whose signature does not
// verify is answered 401 and nothing else; one that arrives while this
// replica does not hold the lease, or that it cannot read, is answered
// with a signed refusal: nothing of it was applied. self is the URL the
// other replicas reach this one at: a request signed for another URL is
// not for this replica. A request is taken once: one sent again (its
// nonce seen, or signed before this handler was made) is refused, signed.
// An answer given while holding reports false closes its connection.
func Handler(m *mechanism.Mechanism, secret []byte, self string, holding func() bool, log *slog.Logger) http.Handler {
	return handler(m, secret, self, holding, log, newNonces(time.Now()))
}

func handler(m *mechanism.Mechanism, secret []byte, self string, holding func() bool, log *slog.Logger, seen *nonces) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+Path, func(w http.ResponseWriter, r *http.Request) {
		reqSig := r.Header.Get(SignatureHeader)
		refuse := func(err error) {
			log.Warn("a hand-over of declarations refused", slog.String("from", r.RemoteAddr), slog.Any("error", err))
			http.Error(w, err.Error(), http.StatusUnauthorized)
		}
		// What can be checked without the body is, before reading it.
		if ts, _, _, err := parseSignature(reqSig); err != nil {
			refuse(err)
			return
		} else if err := fresh(ts, time.Now()); err != nil {
			refuse(err)
			return
		}
		raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			http.Error(w, "read the body: "+err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		ts, nonce, err := verify(secret, "request", reqSig, time.Now(), self, "", raw)
		if err != nil {
			refuse(err)
			return
		}
		answerWith := func(status int, a answer) {
			body, _ := json.Marshal(a)
			if !holding() {
				// The connection closes after the answer: this replica
				// is giving the lease up or does not hold it, and the
				// sender, told to write here for a while, keeps no
				// idle connection that this replica could close under
				// a request (see Server.Release).
				w.Header().Set("Connection", "close")
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set(SignatureHeader, sign(secret, "answer", time.Now(), "", "", reqSig, body))
			w.WriteHeader(status)
			_, _ = w.Write(body)
		}
		if !seen.take(nonce, ts, time.Now()) {
			// Sent again, by whoever captured it: it was taken, or
			// refused, the first time.
			answerWith(http.StatusConflict, answer{Refused: replayed})
			return
		}
		if !holding() {
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
		outs := m.Replicas().ApplyForwarded(r.Context(), fromWire(req))
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

// nonces are the nonces of the requests a Handler took, each kept until
// its request's time is past maxSkew, after which the request is refused
// as stale anyway.
type nonces struct {
	mu    sync.Mutex
	since int64 // when the handler was made, unix seconds
	seen  map[string]int64
	prune int // prune when seen grows to this many
}

func newNonces(now time.Time) *nonces {
	return &nonces{since: now.Unix(), seen: map[string]int64{}, prune: 1024}
}

// take records the nonce of a request signed at ts and reports whether it
// is new. A request signed before the second the handler was made may
// have been taken by this replica's previous process: it is not new. (One
// signed in that very second is taken: a process started again within a
// second of its predecessor's last hand-over could take it twice.)
func (n *nonces) take(nonce string, ts int64, now time.Time) bool {
	if nonce == "" || ts < n.since {
		return false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.seen[nonce]; ok {
		return false
	}
	if len(n.seen) >= n.prune {
		old := now.Add(-maxSkew - time.Second).Unix()
		for k, t := range n.seen {
			if t < old {
				delete(n.seen, k)
			}
		}
		n.prune = max(1024, 2*len(n.seen))
	}
	n.seen[nonce] = ts
	return true
}
