package http

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/mechanism"
)

// check answers a what-if check (POST /v1/check, contract §6):
// {"conflicts": [{"operation": …, "separation": …}]}. With ?fields=id each
// conflict carries the operation's "id" instead of the whole operation,
// for callers that need no more (and the operations are not looked up).
//
// The answer is assembled from the operations' JSON as the mechanism
// keeps it (mechanism.CheckEncoded) and the separations written by hand,
// byte for byte what encoding/json writes for []mechanism.Hit. Like a
// list (list.go) it takes a list slot and must be written within the list
// write timeout; a large answer is written item by item as a list is.
func (s *Server) check(w http.ResponseWriter, r *http.Request, a dc.Actor) {
	var opts mechanism.CheckOptions
	var fields []string
	if r.URL.RawQuery != "" {
		fields = r.URL.Query()["fields"]
	}
	switch f := fields; {
	case len(f) == 0:
	case len(f) == 1 && f[0] == "id":
		opts.IDsOnly = true
	default:
		s.writeError(w, r, dc.FieldErrorf(dc.EInvalid, "fields", "fields may only be \"id\" (the IDs of the operations instead of the operations)"))
		return
	}
	// The body is read into a pooled buffer, given back once decoded
	// (nothing decoded from it points into it) or its refusal written.
	bodyBuf := checkBodies.Get().(*[]byte)
	body, err := readBodyInto(w, r, *bodyBuf)
	var volumes []dc.Volume4D
	if err == nil {
		volumes, err = decodeCheckBody(r.Context(), body)
	}
	if err != nil {
		s.writeError(w, r, err)
		checkBodies.Put(bodyBuf)
		return
	}
	checkBodies.Put(bodyBuf)
	if err := s.acquireList(r.Context()); err != nil {
		return // the client is gone
	}
	defer s.releaseList()
	hits, err := s.mech.CheckEncoded(r.Context(), a, volumes, opts)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	for _, h := range hits {
		if sp := h.Separation; !finite(sp.HorizontalM) || !finite(sp.VerticalM) || !finite(sp.TimeS) {
			s.writeError(w, r, dc.Errorf(dc.EInternal, "separation of operation %s is not a finite number", h.ID))
			return
		}
	}
	size := len(`{"conflicts":[]}`) + 1
	for _, h := range hits {
		size += len(h.Operation) + len(h.ID) + 128
	}
	if size > maxBufferedAnswer {
		// A large answer goes out as a list does, item by item.
		l := s.startList(w, "conflicts")
		b := make([]byte, 0, 4<<10)
		for _, h := range hits {
			b = appendCheckHit(b[:0], h, opts.IDsOnly)
			l.raw(b)
		}
		s.endList(r, l, "")
		return
	}
	// Most answers are a few kilobytes: assembled in a pooled buffer and
	// written at once, with their length.
	buf := checkBuffers.Get().(*[]byte)
	defer checkBuffers.Put(buf)
	b := append((*buf)[:0], `{"conflicts":[`...)
	for i, h := range hits {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendCheckHit(b, h, opts.IDsOnly)
	}
	b = append(b, "]}\n"...)
	*buf = b
	if len(b) > unbufferedAnswer {
		// A client that stops reading must give the list slot back.
		// A smaller answer needs no timer of its own (see
		// unbufferedAnswer).
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.listWriteTimeout))
	}
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// jsonContentType is the Content-Type of a JSON answer, set as is (the
// key already canonical) and shared: net/http only reads it.
var jsonContentType = []string{"application/json"}

// maxBufferedAnswer is the largest answer of a what-if check assembled
// whole before it is written; larger ones are written item by item.
const maxBufferedAnswer = 64 << 10

// unbufferedAnswer is the largest answer of a what-if check written
// without a write deadline. net/http keeps an answer this small in its
// response buffer until the handler has returned and given its list slot
// back, and it fits the smallest send buffer Linux gives a socket, so
// its write does not wait on the client.
const unbufferedAnswer = 2 << 10

// checkBuffers holds the buffers small answers are assembled in.
var checkBuffers = sync.Pool{New: func() any { b := make([]byte, 0, maxBufferedAnswer); return &b }}

// checkBodies holds the buffers check bodies are read into; a body
// announced larger than one gets a buffer of its own.
var checkBodies = sync.Pool{New: func() any { b := make([]byte, 0, checkBodyBuffer); return &b }}

// checkBodyBuffer is the size of a pooled check body buffer: room for a
// few circles or a polygon of a hundred or so vertices.
const checkBodyBuffer = 4 << 10

// appendCheckHit appends one conflict of a what-if check's answer to b:
// {"operation": …, "separation": …}, or {"id": …, "separation": …} for IDs
// only. Its separation must be finite.
func appendCheckHit(b []byte, h mechanism.EncodedHit, idsOnly bool) []byte {
	if idsOnly {
		b = append(b, `{"id":`...)
		b = strconv.AppendQuote(b, h.ID) // a UUID: nothing to escape
	} else {
		b = append(b, `{"operation":`...)
		b = append(b, h.Operation...)
	}
	sp := h.Separation
	b = append(b, `,"separation":{"horizontal_m":`...)
	b = appendJSONFloat(b, sp.HorizontalM)
	b = append(b, `,"vertical_m":`...)
	b = appendJSONFloat(b, sp.VerticalM)
	b = append(b, `,"time_s":`...)
	b = appendJSONFloat(b, sp.TimeS)
	return append(b, "}}"...)
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// appendJSONFloat appends a finite float64 exactly as encoding/json
// writes it: the shortest representation, in exponent form only below
// 1e-6 or from 1e21, with a two-digit negative exponent cut to one.
func appendJSONFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}
