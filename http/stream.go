package http

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	dc "github.com/deconflict/deconflict"
)

// Streaming: how often a stream looks for events committed by other
// processes, and how often it sends a comment to keep proxies from closing
// an idle connection.
const (
	streamPoll      = time.Second
	streamKeepAlive = 15 * time.Second
	// streamWriteTimeout bounds each write to a stream: a client that
	// stops reading is dropped (it resumes with Last-Event-ID) rather
	// than holding a goroutine, and the server's shutdown, forever.
	streamWriteTimeout = 10 * time.Second
)

// wantsStream reports whether GET /v1/events should stream (Server-Sent
// Events) rather than answer one JSON page: a page is asked for with
// ?after or ?limit, or by accepting only JSON.
func wantsStream(r *http.Request) bool {
	q := r.URL.Query()
	if q.Has("after") || q.Has("limit") {
		return false
	}
	accept := r.Header.Get("Accept")
	return accept == "" || strings.Contains(accept, "text/event-stream") || strings.Contains(accept, "*/*")
}

func (s *Server) events(w http.ResponseWriter, r *http.Request, a dc.Actor) {
	if !wantsStream(r) {
		s.listEvents(w, r, a)
		return
	}
	var after int64
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < 0 {
			s.writeError(w, r, dc.FieldErrorf(dc.EInvalid, "Last-Event-ID", "Last-Event-ID must be an event sequence number"))
			return
		}
		after = n
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": deconflict event stream\nretry: 2000\n\n")
	if err := rc.Flush(); err != nil {
		return
	}
	ctx := r.Context()
	// When the server stops, a write blocked on a client that does not
	// read fails at once instead of holding the shutdown.
	stopped := make(chan struct{})
	defer close(stopped)
	go func() {
		select {
		case <-s.closing:
			_ = rc.SetWriteDeadline(time.Now())
		case <-stopped:
		}
	}()
	// extend gives the next writes streamWriteTimeout. Should the server
	// be stopping meanwhile, the deadline goes back to now: whichever of
	// this and the goroutine above sets it last, a stopping server never
	// waits on a client that does not read.
	extend := func() {
		_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		select {
		case <-s.closing:
			_ = rc.SetWriteDeadline(time.Now())
		default:
		}
	}
	poll := time.NewTicker(streamPoll)
	defer poll.Stop()
	keepAlive := time.NewTicker(streamKeepAlive)
	defer keepAlive.Stop()
	// The token is checked again before events are sent whenever a token
	// was revoked, and at least every streamPoll (a revocation by another
	// process shows up there): a revoked token's stream ends.
	revocations, checked := s.mech.Access().Revocations(), time.Now()
	for {
		// Take the wake-up channel before reading, so that a commit
		// between the read and the wait is not missed.
		changed := s.mech.Changed()
		if n := s.mech.Access().Revocations(); n != revocations || time.Since(checked) >= streamPoll {
			if _, err := s.authenticate(r); err != nil {
				if dc.ErrorCode(err) == dc.EUnauthenticated {
					fmt.Fprint(w, "event: error\ndata: {\"error\":{\"code\":\"unauthenticated\",\"message\":\"the token was revoked\"}}\n\n")
					_ = rc.Flush()
				} else if ctx.Err() == nil {
					s.log.ErrorContext(ctx, "event stream: checking the token failed", keyError, err)
				}
				return
			}
			revocations, checked = s.mech.Access().Revocations(), time.Now()
		}
		for {
			select {
			case <-ctx.Done():
				return
			case <-s.closing: // stopping: the client resumes elsewhere
				return
			default:
			}
			evs, err := s.mech.StreamEvents(ctx, a, after, 500)
			if err != nil {
				if ctx.Err() == nil {
					s.log.ErrorContext(ctx, "event stream read failed", keyError, err)
				}
				return
			}
			if len(evs) > 0 {
				extend()
			}
			size := 0
			for _, e := range evs {
				if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", e.Event.Seq, e.Event.Type, e.JSON); err != nil {
					return
				}
				after, size = e.Event.Seq, size+len(e.JSON)
			}
			if len(evs) > 0 {
				if err := rc.Flush(); err != nil {
					return
				}
			}
			// Fewer than asked is the end of the log, unless the batch was
			// cut at dc.MaxPageBytes: then read on at once.
			if len(evs) < 500 && size <= dc.MaxPageBytes {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-s.closing:
			return
		case <-changed:
		case <-poll.C:
		case <-keepAlive.C:
			extend()
			fmt.Fprint(w, ": keep-alive\n\n")
			if err := rc.Flush(); err != nil {
				return
			}
		}
	}
}
