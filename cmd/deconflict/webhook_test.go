package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/deconflict/deconflict/notify"
)

// receiver is a webhook receiver on loopback that verifies signatures.
type receiver struct {
	t      *testing.T
	secret string
	mu     sync.Mutex
	got    []delivered
	srv    *http.Server
	addr   string
}

type delivered struct {
	id, typ string
	seq     int64
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	secret := rc.secret
	rc.mu.Unlock()
	if err := notify.Verify(secret, r.Header, body, time.Now(), 0); err != nil {
		rc.t.Errorf("delivery does not verify: %v", err)
		w.WriteHeader(400)
		return
	}
	var ev struct {
		Seq  int64  `json:"seq"`
		Type string `json:"type"`
	}
	_ = json.Unmarshal(body, &ev)
	rc.mu.Lock()
	rc.got = append(rc.got, delivered{r.Header.Get("webhook-id"), ev.Type, ev.Seq})
	rc.mu.Unlock()
}

// listen starts (or restarts) the receiver on addr ("127.0.0.1:0" first).
func (rc *receiver) listen(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		rc.t.Fatal(err)
	}
	rc.addr = ln.Addr().String()
	rc.srv = &http.Server{Handler: rc}
	go rc.srv.Serve(ln)
	rc.t.Cleanup(func() { rc.srv.Close() })
}

func (rc *receiver) types() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []string
	for _, d := range rc.got {
		out = append(out, d.typ)
	}
	return out
}

func waitFor(t testing.TB, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestWebhooks(t *testing.T) {
	s := startServer(t)
	headB, liB, opA := s.token("head", "bravo"), s.token("liaison", "bravo"), s.token("operator", "alpha")
	rc := &receiver{t: t}
	rc.listen("127.0.0.1:0")

	sub := map[string]any{"url": "http://" + rc.addr + "/hook", "events": []string{"operation.declared", "conflict.opened"}}
	s.do("PUT", "/v1/webhooks/ops", liB, sub).want(t, 403, "permission_denied")
	s.do("PUT", "/v1/webhooks/ops", headB, map[string]any{"url": "ftp://x", "events": []string{"operation.declared"}}).want(t, 400, "invalid_argument", "url")
	s.do("PUT", "/v1/webhooks/ops", headB, map[string]any{"url": "http://x", "events": []string{"operation.exploded"}}).want(t, 400, "invalid_argument", "events[0]")
	r := s.do("PUT", "/v1/webhooks/ops", headB, sub).want(t, 201)
	secret, _ := r.body["secret"].(string)
	if len(secret) < 10 || secret[:6] != "whsec_" {
		t.Fatalf("create answered %s", r.raw)
	}
	rc.mu.Lock()
	rc.secret = secret
	rc.mu.Unlock()
	if again := s.do("PUT", "/v1/webhooks/ops", headB, sub).want(t, 200); again.body["secret"] != nil {
		t.Fatal("the secret is shown again on replace")
	}

	s.do("PUT", "/v1/operations/"+newID(), opA, decl("planned", circle(5, 5, 1000, 0, 100, at(3), at(4)))).want(t, 201)
	waitFor(t, 5*time.Second, "the declaration webhook", func() bool { return len(rc.types()) >= 1 })
	if got := rc.types(); got[0] != "operation.declared" {
		t.Fatalf("delivered %v", got)
	}

	// The receiver goes down; events meanwhile arrive once it is back.
	addr := rc.addr
	rc.srv.Close()
	s.do("PUT", "/v1/operations/"+newID(), s.token("operator", "bravo"), decl("planned", circle(5, 5, 1000, 0, 100, at(3), at(4)))).want(t, 201)
	waitFor(t, 5*time.Second, "a failed delivery to show", func() bool {
		ws := s.do("GET", "/v1/webhooks", headB, nil).want(t, 200).list("webhooks")
		return len(ws) == 1 && jsonPath(ws[0], "delivery", "attempts").(float64) >= 1
	})
	rc.listen(addr)
	waitFor(t, 10*time.Second, "delivery after the receiver came back", func() bool {
		for _, typ := range rc.types() {
			if typ == "conflict.opened" {
				return true
			}
		}
		return false
	})
	// The delivery state is stored just after the receiver answered.
	waitFor(t, 5*time.Second, "the delivery state to recover", func() bool {
		ws := s.do("GET", "/v1/webhooks", headB, nil).want(t, 200).list("webhooks")
		return jsonPath(ws[0], "delivery", "delivered").(float64) >= 3 && jsonPath(ws[0], "delivery", "failing_since") == nil
	})
	// Every delivery carries webhook-id evt_<seq>, the same on a retry.
	rc.mu.Lock()
	for _, d := range rc.got {
		if d.id != "evt_"+itoa(d.seq) {
			t.Errorf("webhook-id %q for seq %d", d.id, d.seq)
		}
	}
	rc.mu.Unlock()
	s.do("DELETE", "/v1/webhooks/ops", headB, nil).want(t, 200)
	s.do("DELETE", "/v1/webhooks/ops", headB, nil).want(t, 404, "not_found")
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }
