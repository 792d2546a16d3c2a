package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	dchttp "github.com/deconflict/deconflict/http"
	"github.com/deconflict/deconflict/mechanism"
)

// streamEvents follows the event stream of token in the background and
// sends what it receives on the returned channel. It returns once the
// server has answered the stream's request, so that what the test does
// next (a revocation, say) happens to a stream already open.
func (s *testServer) streamEvents(t *testing.T, token string, after int64) (<-chan dchttp.StreamEvent, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan dchttp.StreamEvent, 1000)
	answered := make(chan struct{})
	c := &dchttp.Client{BaseURL: s.base, Token: token, HTTP: &http.Client{Transport: &answeredTransport{answered: answered}}}
	go func() {
		_ = c.Stream(ctx, after, func(ev dchttp.StreamEvent) error {
			ch <- ev
			return nil
		})
	}()
	t.Cleanup(cancel)
	select {
	case <-answered:
	case <-time.After(30 * time.Second):
		t.Fatal("the event stream's request got no answer within 30 s")
	}
	return ch, cancel
}

// answeredTransport closes answered once its first request has an answer
// (its status and headers) or has failed.
type answeredTransport struct {
	answered chan struct{}
	once     sync.Once
}

func (a *answeredTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	defer a.once.Do(func() { close(a.answered) })
	return http.DefaultTransport.RoundTrip(r)
}

// next waits for the next event of the given type, skipping others.
func next(t *testing.T, ch <-chan dchttp.StreamEvent, typ string, within time.Duration) dchttp.StreamEvent {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case ev := <-ch:
			if ev.Type == typ {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %s event within %s", typ, within)
		}
	}
}

func TestStreamDeliversAndResumesAcrossRestart(t *testing.T) {
	s := startServer(t)
	opA, liB := s.token("operator", "alpha"), s.token("liaison", "bravo")
	ch, stop := s.streamEvents(t, liB, 0)

	id := newID()
	body := decl("planned", circle(5, 5, 1000, 0, 100, at(3), at(4)))
	body["notes"] = "secret plan"
	sent := time.Now()
	s.do("PUT", "/v1/operations/"+id, opA, body).want(t, 201)
	ev := next(t, ch, "operation.declared", 10*time.Second)
	t.Logf("the declaration reached the stream %s after the PUT was sent", time.Since(sent).Round(time.Millisecond))
	var got map[string]any
	if err := json.Unmarshal(ev.Data, &got); err != nil {
		t.Fatal(err)
	}
	if jsonPath(got, "operation", "id") != id || int64(got["seq"].(float64)) != ev.Seq || strings.Contains(string(ev.Data), "secret plan") {
		t.Fatalf("event = %s", ev.Data)
	}
	stop()
	last := ev.Seq

	// Restart; events declared meanwhile and after come exactly once,
	// right after the last one seen.
	s.stop()
	s.start()
	id2 := newID()
	s.do("PUT", "/v1/operations/"+id2, opA, decl("planned", circle(6, 6, 1000, 0, 100, at(3), at(4)))).want(t, 201)
	ch2, _ := s.streamEvents(t, liB, last)
	ev2 := next(t, ch2, "operation.declared", 10*time.Second)
	if ev2.Seq <= last {
		t.Fatalf("resumed at %d, after %d", ev2.Seq, last)
	}
	if !strings.Contains(string(ev2.Data), id2) {
		t.Fatalf("resumed with %s, want the declaration of %s", ev2.Data, id2)
	}
	// The JSON page gives the same events.
	page := s.do("GET", "/v1/events?after=0&limit=1000", liB, nil).want(t, 200)
	found := false
	for _, e := range page.list("events") {
		if int64(e.(map[string]any)["seq"].(float64)) == ev2.Seq {
			found = true
		}
	}
	if !found {
		t.Fatalf("the JSON page lacks event %d", ev2.Seq)
	}
}

func TestReceiptsAndEscalation(t *testing.T) {
	s := startServer(t)
	admin, opA, liA := s.token("admin", ""), s.token("operator", "alpha"), s.token("liaison", "alpha")
	liB, headB, liC := s.token("liaison", "bravo"), s.token("head", "bravo"), s.token("liaison", "charlie")
	s.do("PUT", "/v1/settings", admin, map[string]any{"ack_timeout_s": 1}).want(t, 200)

	id := newID()
	s.do("PUT", "/v1/operations/"+id, opA, decl("planned", circle(5, 5, 1000, 0, 100, at(3), at(4)))).want(t, 201)
	s.do("POST", "/v1/operations/"+id+"/ack", liA, map[string]any{"version": 1}).want(t, 403, "permission_denied")
	s.do("POST", "/v1/operations/"+id+"/ack", opA, map[string]any{"version": 1}).want(t, 403, "permission_denied")
	s.do("POST", "/v1/operations/"+id+"/ack", liB, map[string]any{"version": 2}).want(t, 400, "invalid_argument", "version")
	s.do("POST", "/v1/operations/"+id+"/ack", liC, map[string]any{"version": 1}).want(t, 200)

	// Bravo does not answer: level 1 for bravo, then level 2.
	levelOf := func(token, party string) (int, bool) {
		for _, e := range s.do("GET", "/v1/escalations", token, nil).want(t, 200).list("escalations") {
			m := e.(map[string]any)
			if m["party"] == party && jsonPath(m, "subject", "id") == id {
				return int(m["level"].(float64)), m["cleared_at"] != nil
			}
		}
		return 0, false
	}
	waitLevel := func(level int) {
		t.Helper()
		deadline := time.Now().Add(6 * time.Second)
		for time.Now().Before(deadline) {
			if l, _ := levelOf(headB, "bravo"); l >= level {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("bravo's silence did not reach level %d", level)
	}
	waitLevel(1)
	if l, _ := levelOf(liC, "charlie"); l != 0 {
		t.Errorf("charlie answered in time but was escalated to level %d", l)
	}
	waitLevel(2)
	// Level 2 is seen by every party.
	if l, _ := levelOf(liA, "bravo"); l != 2 {
		t.Errorf("alpha sees bravo's escalation at level %d, want 2", l)
	}
	s.do("POST", "/v1/operations/"+id+"/ack", liB, map[string]any{"version": 1}).want(t, 200)
	if _, cleared := levelOf(headB, "bravo"); !cleared {
		t.Fatal("acknowledging did not clear the escalation")
	}
	evs := string(s.do("GET", "/v1/events?after=0", headB, nil).raw)
	for _, typ := range []string{"escalation.raised", "escalation.cleared", "operation.acknowledged"} {
		if !strings.Contains(evs, typ) {
			t.Errorf("no %s event", typ)
		}
	}
}

func TestShortNotice(t *testing.T) {
	s := startServer(t)
	opA, headB := s.token("operator", "alpha"), s.token("head", "bravo")
	id := newID()
	// Fifteen minutes from now, not from testEpoch: the package's earlier
	// tests may have taken minutes of that notice.
	soon := time.Now().UTC().Truncate(time.Second).Add(15 * time.Minute)
	s.do("PUT", "/v1/operations/"+id, opA, decl("planned", circle(5, 5, 1000, 0, 100, soon, soon.Add(45*time.Minute)))).want(t, 201)
	var notice map[string]any
	for _, e := range s.do("GET", "/v1/events?after=0", headB, nil).want(t, 200).list("events") {
		if m := e.(map[string]any); m["type"] == "notice.short" {
			notice = m
		}
	}
	if notice == nil {
		t.Fatal("no notice.short for an operation starting in 15 minutes")
	}
	if lead := notice["lead_time_s"].(float64); lead < 300 || lead > 900 {
		t.Errorf("lead time %v s, want about 900", lead)
	}
	// The warning is the heads' alert; the declaration's duties escalate
	// on the ordinary timer, not at once.
	for _, e := range s.do("GET", "/v1/escalations", headB, nil).want(t, 200).list("escalations") {
		t.Errorf("escalated at once: %v", e)
	}
	// Plenty of notice: no warning.
	s.do("PUT", "/v1/operations/"+newID(), opA, decl("planned", circle(5, 5, 1000, 0, 100, at(5), at(6)))).want(t, 201)
	n := 0
	for _, e := range s.do("GET", "/v1/events?after=0", headB, nil).list("events") {
		if e.(map[string]any)["type"] == "notice.short" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d notice.short events, want 1", n)
	}
}

func TestHotline(t *testing.T) {
	s := startServer(t)
	liA, liB, headC, opA := s.token("liaison", "alpha"), s.token("liaison", "bravo"), s.token("head", "charlie"), s.token("operator", "alpha")
	chB, _ := s.streamEvents(t, liB, 0)

	s.do("POST", "/v1/hotline/messages", opA, map[string]any{"to": []string{"bravo"}, "text": "hi"}).want(t, 403, "permission_denied")
	s.do("POST", "/v1/hotline/messages", liA, map[string]any{"to": []string{"alpha"}, "text": "hi"}).want(t, 400, "invalid_argument", "to[0]")
	s.do("POST", "/v1/hotline/messages", liA, map[string]any{"to": []string{"nobody"}, "text": "hi"}).want(t, 400, "invalid_argument", "to[0]")
	s.do("POST", "/v1/hotline/messages", liA, map[string]any{"to": []string{"bravo"}, "text": ""}).want(t, 400, "invalid_argument", "text")
	s.do("POST", "/v1/hotline/messages", liA, map[string]any{"to": []string{"bravo"}, "text": "x", "urgency": "panic"}).want(t, 400, "invalid_argument", "urgency")

	r := s.do("POST", "/v1/hotline/messages", liA, map[string]any{"to": []string{"bravo"}, "text": "Tanker AZ-3 holding at FL250 east of the box", "urgency": "urgent"})
	if r.status != 200 && r.status != 201 {
		t.Fatalf("send: %d %s", r.status, r.raw)
	}
	mid := jsonPath(r.body, "message", "id").(string)
	next(t, chB, "hotline.message", 10*time.Second)
	// Charlie is not addressed: it neither sees nor acknowledges it.
	for _, m := range s.do("GET", "/v1/hotline/messages", headC, nil).want(t, 200).list("messages") {
		if m.(map[string]any)["id"] == mid {
			t.Fatal("charlie sees a message between alpha and bravo")
		}
	}
	// Nor does charlie's observer, in the list or among the events; the
	// admin, who runs the mechanism, does.
	obsC := s.token("observer", "charlie")
	for _, m := range s.do("GET", "/v1/hotline/messages", obsC, nil).want(t, 200).list("messages") {
		if m.(map[string]any)["id"] == mid {
			t.Fatal("charlie's observer sees a message between alpha and bravo")
		}
	}
	if evs := s.do("GET", "/v1/events?after=0", obsC, nil).want(t, 200); strings.Contains(string(evs.raw), "Tanker AZ-3") {
		t.Fatal("charlie's observer sees the message among the events")
	}
	if evs := s.do("GET", "/v1/events?after=0", s.token("admin", ""), nil).want(t, 200); !strings.Contains(string(evs.raw), "Tanker AZ-3") {
		t.Fatal("the admin does not see the message among the events")
	}
	s.do("POST", "/v1/hotline/messages/"+mid+"/ack", headC, nil).want(t, 404, "not_found")
	s.do("POST", "/v1/hotline/messages/"+mid+"/ack", liA, nil).want(t, 403, "permission_denied")
	ack := s.do("POST", "/v1/hotline/messages/"+mid+"/ack", liB, nil).want(t, 200)
	if jsonPath(ack.body, "message", "acknowledged", "bravo") == nil {
		t.Fatalf("ack: %s", ack.raw)
	}
	seen := false
	for _, m := range s.do("GET", "/v1/hotline/messages", liA, nil).want(t, 200).list("messages") {
		if m.(map[string]any)["id"] == mid && jsonPath(m, "acknowledged", "bravo") != nil {
			seen = true
		}
	}
	if !seen {
		t.Fatal("alpha does not see bravo's acknowledgement")
	}

	// A line check goes to every other party, each acknowledges it.
	lc := s.do("POST", "/v1/hotline/check", liA, nil)
	if lc.status != 200 && lc.status != 201 {
		t.Fatalf("line check: %d %s", lc.status, lc.raw)
	}
	next(t, chB, "line.check", 10*time.Second)
	lid := jsonPath(lc.body, "message", "id").(string)
	if to := jsonPath(lc.body, "message", "to").([]any); len(to) != 2 {
		t.Fatalf("line check to %v, want bravo and charlie", to)
	}
	s.do("POST", "/v1/hotline/messages/"+lid+"/ack", headC, nil).want(t, 200)
	s.do("POST", "/v1/hotline/messages/"+lid+"/ack", liB, nil).want(t, 200)
}

// A stream client that stops reading does not hold the server's shutdown:
// the server stops at once and cleanly, though the client's backlog (4.5
// MB here) could never be written.
func TestStopWithAStalledStream(t *testing.T) {
	s := startServer(t)
	liA, liB := s.token("liaison", "alpha"), s.token("liaison", "bravo")
	text := strings.Repeat("€", mechanism.MaxMessageLen) // 30 KB
	for range 150 {
		s.do("POST", "/v1/hotline/messages", liA, map[string]any{"to": []string{"bravo"}, "text": text}).want(t, 201)
	}
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(conn, "GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nAccept: text/event-stream\r\nLast-Event-ID: 0\r\n\r\n", liB)
	time.Sleep(500 * time.Millisecond) // the server writes until the buffers are full; nothing reads
	began := time.Now()
	s.stop() // fails the test if serve exits non-zero
	if took := time.Since(began); took > 5*time.Second {
		t.Fatalf("stopping took %s", took)
	}
}
