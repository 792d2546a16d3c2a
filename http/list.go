package http

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// Lists are answered a page at a time (contract 2.2), each page bounded
// by the stores to about dc.MaxPageBytes. Two more bounds keep the memory
// of the server bounded under a flood of such requests:
//   - a page is encoded one item at a time into a buffered writer, never
//     built whole as one []byte beside the items it encodes;
//   - at most Options.MaxListsAtOnce pages are read and encoded at a time,
//     server-wide; further list requests wait their turn (or until their
//     client hangs up);
//   - a page must be written within Options.ListWriteTimeout, so that a
//     client that stops reading gives its turn back rather than holding
//     it, and the lists of everyone else, forever.

// Defaults of Options.MaxListsAtOnce (a page of large items takes about
// 10-20 MB while it is read and encoded) and Options.ListWriteTimeout (a
// 4 MiB page within it needs a client reading 140 KB/s).
const (
	defaultListsAtOnce      = 8
	defaultListWriteTimeout = 30 * time.Second
)

// listBufferSize is the buffer between the encoder and the connection.
const listBufferSize = 32 << 10

// acquireList waits for a turn to build a page; releaseList gives it
// back. It fails only when the request's context ends first. A free slot
// is taken without looking at the context, whose channel the first look
// would make.
func (s *Server) acquireList(ctx context.Context) error {
	select {
	case s.listSlots <- struct{}{}:
		return nil
	default:
	}
	select {
	case s.listSlots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// releaseList gives back the turn acquireList took.
func (s *Server) releaseList() { <-s.listSlots }

// listWriter writes {"NAME": [ITEM, …], "next": CURSOR} item by item.
type listWriter struct {
	rc  *http.ResponseController
	bw  *bufio.Writer
	enc *json.Encoder
	n   int
	err error
}

// startList answers 200 and opens the list called name.
func (s *Server) startList(w http.ResponseWriter, name string) *listWriter {
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Now().Add(s.listWriteTimeout))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, listBufferSize)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	l := &listWriter{rc: rc, bw: bw, enc: enc}
	l.write(`{` + strconv.Quote(name) + `:[`)
	return l
}

func (l *listWriter) write(s string) {
	if l.err == nil {
		_, l.err = l.bw.WriteString(s)
	}
}

func (l *listWriter) comma() {
	if l.n > 0 {
		l.write(",")
	}
	l.n++
}

// item encodes one item of the list.
func (l *listWriter) item(v any) {
	l.comma()
	if l.err == nil {
		l.err = l.enc.Encode(v)
	}
}

// raw writes one item already encoded as JSON.
func (l *listWriter) raw(b []byte) {
	l.comma()
	if l.err == nil {
		_, l.err = l.bw.Write(b)
	}
}

// end closes the list, adds "next" when there is a next page, and
// flushes. An error means the client has not got the whole answer (the
// status is sent already; the connection is the only way left to tell).
func (l *listWriter) end(next string) error {
	l.write("]")
	if next != "" {
		l.write(`,"next":` + strconv.Quote(next))
	}
	l.write("}\n")
	if l.err == nil {
		l.err = l.bw.Flush()
	}
	// The deadline is the connection's: lift it for the next request.
	_ = l.rc.SetWriteDeadline(time.Time{})
	return l.err
}

// endList ends a list answer; a failure to send it is the client's
// (gone, or too slow), logged at debug level only.
func (s *Server) endList(r *http.Request, l *listWriter, next string) {
	if err := l.end(next); err != nil {
		s.log.DebugContext(r.Context(), "list answer not sent whole", keyError, err)
	}
}
