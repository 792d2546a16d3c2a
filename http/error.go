package http

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"

	dc "github.com/deconflict/deconflict"
)

// statuses maps every error code to its HTTP status. It is the only place
// that does.
var statuses = map[string]int{
	dc.EInvalid:            http.StatusBadRequest,
	dc.EUnauthenticated:    http.StatusUnauthorized,
	dc.EPermission:         http.StatusForbidden,
	dc.ENotFound:           http.StatusNotFound,
	dc.EConflictUnresolved: http.StatusConflict,
	dc.EInvalidTransition:  http.StatusConflict,
	dc.EExists:             http.StatusConflict,
	dc.EVersionMismatch:    http.StatusPreconditionFailed,
	dc.ETooLarge:           http.StatusRequestEntityTooLarge,
	dc.EPrecondition:       http.StatusPreconditionRequired,
	dc.ERateLimited:        http.StatusTooManyRequests,
	dc.EUnavailable:        http.StatusServiceUnavailable,
	dc.EInternal:           http.StatusInternalServerError,
	dc.EForbidden:          http.StatusForbidden,
	dc.EPeerUnreachable:    http.StatusConflict,
}

// errorBody is the JSON form of every error answer.
type errorBody struct {
	Error     errorDetail    `json:"error"`
	Conflicts []*dc.Conflict `json:"conflicts,omitempty"`
}

type errorDetail struct {
	Code      string         `json:"code"`
	Message   string         `json:"message"`
	Field     string         `json:"field,omitempty"`
	Conflicts []*dc.Conflict `json:"conflicts,omitempty"`
}

// writeError answers err. Errors that are not *dc.Error are internal: the
// client gets an error id, and the log gets the error under the same id.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *dc.Error
	if !errors.As(err, &e) && r.Context().Err() != nil {
		// The client went away (or the server is stopping) while the
		// request ran: not a fault of the server, and nobody reads the
		// answer. Recorded as 499, the status proxies use for it.
		w.WriteHeader(statusClientClosed)
		return
	}
	if !errors.As(err, &e) {
		var buf [8]byte
		_, _ = rand.Read(buf[:])
		id := hex.EncodeToString(buf[:])
		s.log.ErrorContext(r.Context(), "internal error", slog.String(keyErrorID, id),
			slog.String(keyMethod, r.Method), slog.String(keyPath, r.URL.Path), slog.Any(keyError, err))
		e = dc.Errorf(dc.EInternal, "internal error (error id %s)", id)
	}
	status, ok := statuses[e.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if status == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		// Unavailable is temporary (a database failing over): say when
		// to try again, so that clients retry rather than give up.
		w.Header().Set("Retry-After", "1")
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="deconflict"`)
	}
	body := errorBody{Error: errorDetail{Code: e.Code, Message: e.Message, Field: e.Field}}
	if len(e.Conflicts) > 0 {
		body.Conflicts, body.Error.Conflicts = e.Conflicts, e.Conflicts
	}
	writeJSON(w, status, body)
}

// statusClientClosed is recorded for a request whose client hung up
// before its answer was ready (nginx's 499).
const statusClientClosed = 499

// Log attribute keys.
const (
	keyErrorID = "error_id"
	keyMethod  = "method"
	keyPath    = "path"
	keyRoute   = "route"
	keyStatus  = "status"
	keyError   = "error"
	keyParty   = "party"
	keyRole    = "role"
	keyElapsed = "elapsed"
)
