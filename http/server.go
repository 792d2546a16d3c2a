package http

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/mechanism"
	"golang.org/x/time/rate"
)

// Options configure a Server.
type Options struct {
	Logger *slog.Logger
	// RateLimit is the sustained number of requests per second allowed to
	// one token, with bursts of twice as many; 0 means no limit.
	RateLimit float64
	// Console, if set, serves the web console at "/".
	Console http.Handler
	// AuthFailureLimit is the sustained number of failed authentications
	// (no, unknown or revoked token) per second allowed to one client
	// address, with bursts of AuthFailureBurst; beyond it such requests
	// are answered 429. Requests with a valid token are never counted
	// nor limited by it. 0 means no limit.
	AuthFailureLimit float64
	AuthFailureBurst int
	// MaxListsAtOnce bounds how many pages of lists are read and encoded
	// at a time, server-wide (see list.go); 0 means defaultListsAtOnce.
	MaxListsAtOnce int
	// ListWriteTimeout bounds the time to write one page of a list; 0
	// means defaultListWriteTimeout.
	ListWriteTimeout time.Duration
	// Federation, if set, connects the server to its federation node.
	Federation *FederationOptions
}

// Server is the HTTP face of a mechanism.
type Server struct {
	mech             *mechanism.Mechanism
	log              *slog.Logger
	metrics          *metrics
	mux              *http.ServeMux
	limits           *limiter
	authFails        *authLimiter
	listSlots        chan struct{}
	listWriteTimeout time.Duration

	// checkRoute is the route of POST /v1/check, which ServeHTTP takes
	// without the mux's lookup.
	checkRoute http.HandlerFunc

	closeOnce sync.Once
	closing   chan struct{} // closed when the server shuts down: streams end
}

// CheckPath is the path of what-if checks (POST, contract §6).
const CheckPath = "/v1/check"

const checkPattern = "POST " + CheckPath

// NewServer returns a server for the mechanism.
func NewServer(m *mechanism.Mechanism, opts Options) *Server {
	s := &Server{mech: m, log: opts.Logger, mux: http.NewServeMux(), closing: make(chan struct{})}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if opts.RateLimit > 0 {
		s.limits = &limiter{rate: rate.Limit(opts.RateLimit), burst: int(2 * opts.RateLimit), byToken: map[string]*rate.Limiter{}}
	}
	if opts.AuthFailureLimit > 0 {
		s.authFails = newAuthLimiter(opts.AuthFailureLimit, max(1, opts.AuthFailureBurst))
	}
	if opts.MaxListsAtOnce <= 0 {
		opts.MaxListsAtOnce = defaultListsAtOnce
	}
	s.listSlots = make(chan struct{}, opts.MaxListsAtOnce)
	s.listWriteTimeout = opts.ListWriteTimeout
	if s.listWriteTimeout <= 0 {
		s.listWriteTimeout = defaultListWriteTimeout
	}
	s.metrics = newMetrics(m)
	s.routes(opts.Console)
	s.federationRoutes(opts.Federation)
	return s
}

func (s *Server) routes(console http.Handler) {
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.Handle("GET /metrics", s.metrics.handler())
	s.mux.HandleFunc("GET /openapi.json", serveOpenAPI)

	s.handle("PUT /v1/operations/{id}", s.putOperation)
	s.handle("GET /v1/operations/{id}", s.getOperation)
	s.handle("DELETE /v1/operations/{id}", s.deleteOperation)
	s.handle("GET /v1/operations", s.listOperations)
	s.handle("GET /v1/conflicts", s.listConflicts)
	s.handle("GET /v1/conflicts/{id}", s.getConflict)
	s.handle("POST /v1/conflicts/{id}/ack", s.ackConflict)
	s.handle("POST /v1/conflicts/{id}/waive", s.waiveConflict)
	s.checkRoute = s.handle("POST /v1/check", s.check) // checkPattern
	s.handle("GET /v1/settings", s.getSettings)
	s.handle("PUT /v1/settings", s.putSettings)
	s.handle("GET /v1/events", s.events)
	s.handle("POST /v1/operations/{id}/ack", s.ackOperation)
	s.handle("GET /v1/escalations", s.listEscalations)
	s.handle("POST /v1/hotline/messages", s.sendMessage)
	s.handle("GET /v1/hotline/messages", s.listMessages)
	s.handle("POST /v1/hotline/messages/{id}/ack", s.ackMessage)
	s.handle("POST /v1/hotline/check", s.lineCheck)
	s.handle("PUT /v1/webhooks/{name}", s.putWebhook)
	s.handle("GET /v1/webhooks", s.listWebhooks)
	s.handle("DELETE /v1/webhooks/{name}", s.deleteWebhook)
	s.handle("GET /v1/log/checkpoint", s.logCheckpoint)
	s.handle("GET /v1/log/key", s.logKey)
	s.handle("GET /v1/log/entries", s.logEntries)
	s.handle("GET /v1/log/proof/inclusion", s.inclusionProof)
	s.handle("GET /v1/log/proof/consistency", s.consistencyProof)
	s.handle("GET /v1/evidence/operations/{id}", s.evidence)
	s.handle("GET /v1/whoami", s.whoami)
	s.handle("GET /v1/parties", s.listParties)
	s.handle("/v1/", func(w http.ResponseWriter, r *http.Request, _ dc.Actor) {
		s.writeError(w, r, dc.Errorf(dc.ENotFound, "no endpoint %s %s", r.Method, r.URL.Path))
	})
	if console != nil {
		// "/" rather than "GET /", which would conflict with "/v1/"; the
		// console answers other methods with 405 itself.
		s.mux.Handle("/", console)
	}
}

// StopStreams ends every open event stream, so that a graceful shutdown
// does not wait for clients that never hang up. Register it with
// http.Server.RegisterOnShutdown.
func (s *Server) StopStreams() { s.closeOnce.Do(func() { close(s.closing) }) }

// actorHandler is a handler of an authenticated request.
type actorHandler func(w http.ResponseWriter, r *http.Request, a dc.Actor)

// handle registers an authenticated /v1 handler.
func (s *Server) handle(pattern string, h actorHandler) http.HandlerFunc {
	f := func(w http.ResponseWriter, r *http.Request) {
		a, err := s.authenticate(r)
		if err != nil {
			if dc.ErrorCode(err) == dc.EUnauthenticated && s.authFails != nil && !s.authFails.failed(r) {
				w.Header().Set("Retry-After", strconv.Itoa(s.authFails.retryAfter()))
				err = dc.Errorf(dc.ERateLimited, "too many requests without a valid token from this address; slow down")
			}
			s.writeError(w, r, err)
			return
		}
		if s.limits != nil && !s.limits.allow(a.TokenID) {
			w.Header().Set("Retry-After", "1")
			s.writeError(w, r, dc.Errorf(dc.ERateLimited, "too many requests for this token; slow down"))
			return
		}
		if rec, ok := w.(*recorder); ok {
			rec.actor = a
		}
		h(w, r, a)
	}
	s.mux.HandleFunc(pattern, f)
	return f
}

// authenticate reads the bearer token of the request.
func (s *Server) authenticate(r *http.Request) (dc.Actor, error) {
	h := r.Header.Get("Authorization")
	scheme, token, _ := strings.Cut(h, " ")
	if h == "" || !strings.EqualFold(scheme, "Bearer") {
		return dc.Actor{}, dc.Errorf(dc.EUnauthenticated, "an Authorization: Bearer token is required")
	}
	return s.mech.Access().Authenticate(r.Context(), strings.TrimSpace(token))
}

// ServeHTTP serves a request, recording its metrics and a log line.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	if r.Method == http.MethodPost && r.URL.Path == CheckPath && r.URL.RawPath == "" {
		// The request clients repeat most, routed without the mux's
		// lookup: for this method and this clean, unescaped path the
		// mux takes this route.
		r.Pattern = checkPattern
		s.checkRoute(rec, r)
	} else {
		s.mux.ServeHTTP(rec, r)
	}
	route := r.Pattern
	if route == "" {
		route = "unmatched"
	}
	elapsed := time.Since(start)
	s.metrics.observe(route, r.Method, rec.status, elapsed)
	level := slog.LevelDebug
	if rec.status >= 500 {
		level = slog.LevelError
	}
	// Asked first, and given as attributes: the line of every request is
	// built only when the level is logged.
	if ctx := r.Context(); s.log.Enabled(ctx, level) {
		s.log.LogAttrs(ctx, level, "request", slog.String(keyMethod, r.Method), slog.String(keyRoute, route),
			slog.Int(keyStatus, rec.status), slog.String(keyParty, rec.actor.Party), slog.String(keyRole, string(rec.actor.Role)),
			slog.Duration(keyElapsed, elapsed))
	}
}

// recorder remembers the status and actor of a response.
type recorder struct {
	http.ResponseWriter
	status int
	actor  dc.Actor
}

func (r *recorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

// Flush lets streaming handlers flush through the recorder.
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// limiter keeps a token bucket per token.
type limiter struct {
	rate    rate.Limit
	burst   int
	mu      sync.Mutex
	byToken map[string]*rate.Limiter
}

func (l *limiter) allow(tokenID string) bool {
	l.mu.Lock()
	lim, ok := l.byToken[tokenID]
	if !ok {
		lim = rate.NewLimiter(l.rate, l.burst)
		l.byToken[tokenID] = lim
	}
	l.mu.Unlock()
	return lim.Allow()
}

// Starting is the handler of a server still loading its index: /healthz
// answers that the process is alive, /readyz and everything else 503 with
// Retry-After, so that a load balancer or a client waits rather than
// finding the port closed.
func Starting() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
			return
		}
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "starting", "error": "loading the conflict index"})
	})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	// Not ready: the store is unreachable, does not take writes, or the
	// integrity alarm was raised (mechanism.Health.Ready says which).
	if err := s.mech.Health().Ready(ctx); err != nil {
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
