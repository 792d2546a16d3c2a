package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestWebhookURLRefusedAtPut: without --webhook-allow, a webhook URL whose
// host is an IP literal of a loopback, link-local, private, multicast or
// unspecified address — in any form a resolver reads as one — is refused
// with 400, field url, and nothing is stored. Names and public addresses
// are accepted.
func TestWebhookURLRefusedAtPut(t *testing.T) {
	s := startServerWith(t, testStore(t))
	head := s.token("head", "bravo")
	put := func(u string) response {
		return s.do("PUT", "/v1/webhooks/ops", head, map[string]any{"url": u, "events": []string{"operation.declared"}})
	}
	for _, host := range []string{
		"127.0.0.1", "127.1", "127.0.1", "2130706433", "0x7f000001", "0x7f.1", "0177.0.0.1", "127.0.0.1.",
		"[::1]", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[0:0:0:0:0:ffff:127.0.0.1]", "[64:ff9b::127.0.0.1]",
		"0.0.0.0", "0", "[::]", "0.1.2.3",
		"169.254.169.254", "[fe80::1]", "[fe80::1%25eth0]",
		"10.0.0.1", "10.255.255.255", "172.16.0.1", "172.31.1.1", "192.168.1.1", "100.64.0.1",
		"[fc00::1]", "[fd12:3456::1]",
		"224.0.0.1", "239.255.255.250", "[ff02::1]", "255.255.255.255",
	} {
		for _, u := range []string{"http://" + host + "/hook", "https://" + host + ":8443/hook", "http://user:pw@" + host + "/"} {
			put(u).want(t, 400, "invalid_argument", "url")
		}
	}
	if ws := s.do("GET", "/v1/webhooks", head, nil).want(t, 200).list("webhooks"); len(ws) != 0 {
		t.Fatalf("a refused webhook was stored: %v", ws)
	}
	for _, u := range []string{"http://93.184.216.34/hook", "https://[2001:4860:4860::8888]/hook", "https://hooks.example.com/x", "http://localhost:9/"} {
		put(u).want(t, 201)
		s.do("DELETE", "/v1/webhooks/ops", head, nil).want(t, 200)
	}

	// --webhook-allow allows exactly the ranges it names.
	a := startServerWith(t, testStore(t), "--webhook-allow", "127.0.0.0/8, 10.1.0.0/16")
	headA := a.token("head", "bravo")
	for _, u := range []string{"http://127.0.0.1:9/", "http://127.1:9/", "http://[::ffff:127.0.0.1]:9/", "http://10.1.2.3/"} {
		a.do("PUT", "/v1/webhooks/ops", headA, map[string]any{"url": u, "events": []string{"operation.declared"}}).want(t, 201)
		a.do("DELETE", "/v1/webhooks/ops", headA, nil).want(t, 200)
	}
	for _, u := range []string{"http://[::1]:9/", "http://10.2.0.1/", "http://169.254.169.254/"} {
		a.do("PUT", "/v1/webhooks/ops", headA, map[string]any{"url": u, "events": []string{"operation.declared"}}).want(t, 400, "invalid_argument", "url")
	}
}

// TestWebhookAllowFlagRefusesBadRanges: a malformed --webhook-allow stops
// serve with a message naming the flag.
func TestWebhookAllowFlagRefusesBadRanges(t *testing.T) {
	s := &testServer{t: t, store: testStore(t)}
	for _, v := range []string{"127.0.0.0/33", "localhost", "10.0.0.0/8;", "fe80::1%eth0"} {
		_, stderr, code := s.run("serve", "--listen", "127.0.0.1:0", "--webhook-allow", v)
		if code == 0 || !strings.Contains(stderr, "--webhook-allow") {
			t.Errorf("--webhook-allow %q: exit %d, %s", v, code, stderr)
		}
	}
}

// TestWebhookToLocalhostFailsDelivery: a name that resolves to loopback
// is accepted at PUT, but its delivery fails as "destination not allowed"
// and nothing reaches the receiver; --webhook-allow 127.0.0.0/8 makes the
// same webhook work.
func TestWebhookToLocalhostFailsDelivery(t *testing.T) {
	rc := &receiver{t: t}
	rc.listen("127.0.0.1:0")
	_, port, _ := net.SplitHostPort(rc.addr)
	for _, allowed := range []bool{false, true} {
		var s *testServer
		if allowed {
			s = startServer(t)
		} else {
			s = startServerWith(t, testStore(t))
		}
		head := s.token("head", "bravo")
		r := s.do("PUT", "/v1/webhooks/ops", head, map[string]any{"url": "http://localhost:" + port + "/hook",
			"events": []string{"operation.declared"}}).want(t, 201)
		rc.mu.Lock()
		rc.secret, rc.got = r.body["secret"].(string), nil
		rc.mu.Unlock()
		s.do("PUT", "/v1/operations/"+newID(), s.token("operator", "alpha"), decl("planned", circle(5, 5, 1000, 0, 100, at(3), at(4)))).want(t, 201)
		if allowed {
			waitFor(t, 10*time.Second, "the delivery", func() bool { return len(rc.types()) == 1 })
			continue
		}
		waitFor(t, 10*time.Second, "a failed attempt", func() bool {
			ws := s.do("GET", "/v1/webhooks", head, nil).want(t, 200).list("webhooks")
			return jsonPath(ws[0], "delivery", "attempts").(float64) >= 1
		})
		ws := s.do("GET", "/v1/webhooks", head, nil).want(t, 200).list("webhooks")
		if e := jsonPath(ws[0], "delivery", "last_error"); e != "destination not allowed" {
			t.Fatalf("last_error %v", e)
		}
		if n := len(rc.types()); n != 0 {
			t.Fatalf("the receiver on loopback got %d requests", n)
		}
	}
}

// TestWebhookLastErrorClasses: GET /v1/webhooks says what class of failure
// the last attempt met, never what the port answered: a closed port and a
// 405 differ only as "connection failed" and "non-2xx status", with no
// status, address or system error in the answer.
func TestWebhookLastErrorClasses(t *testing.T) {
	s := startServer(t)
	head := s.token("head", "bravo")
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	answers405 := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(405) })}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go answers405.Serve(ln)
	t.Cleanup(func() { answers405.Close() })
	want := map[string]string{"closed": "connection failed", "status": "non-2xx status"}
	for name, addr := range map[string]string{"closed": closed.Addr().String(), "status": ln.Addr().String()} {
		s.do("PUT", "/v1/webhooks/"+name, head, map[string]any{"url": "http://" + addr + "/hook", "events": []string{"operation.declared"}}).want(t, 201)
	}
	s.do("PUT", "/v1/operations/"+newID(), s.token("operator", "alpha"), decl("planned", circle(5, 5, 1000, 0, 100, at(3), at(4)))).want(t, 201)
	waitFor(t, 10*time.Second, "both webhooks to fail", func() bool {
		for _, w := range s.do("GET", "/v1/webhooks", head, nil).want(t, 200).list("webhooks") {
			if jsonPath(w, "delivery", "attempts").(float64) < 1 {
				return false
			}
		}
		return true
	})
	r := s.do("GET", "/v1/webhooks", head, nil).want(t, 200)
	for _, w := range r.list("webhooks") {
		name := w.(map[string]any)["name"].(string)
		if got := jsonPath(w, "delivery", "last_error"); got != want[name] {
			t.Errorf("%s: last_error %v, want %q", name, got, want[name])
		}
		if got := jsonPath(w, "delivery", "last_status"); got != nil {
			t.Errorf("%s: last_status %v shown", name, got)
		}
	}
	// The delivery states without their times, and apart from the URLs:
	// the digits of a time or a port may spell 405.
	for _, w := range r.list("webhooks") {
		st := maps.Clone(w.(map[string]any)["delivery"].(map[string]any))
		for _, k := range []string{"last_attempt_at", "next_attempt_at", "failing_since"} {
			delete(st, k)
		}
		b, _ := json.Marshal(st)
		for _, leak := range []string{"405", "refused", "dial", "Method Not Allowed"} {
			if strings.Contains(string(b), leak) {
				t.Errorf("GET /v1/webhooks tells %q: %s", leak, r.raw)
			}
		}
	}
}

// TestWebhookCredentialsRedacted: credentials in a webhook URL are used to
// deliver but never shown back; putting back the URL as shown keeps them.
func TestWebhookCredentialsRedacted(t *testing.T) {
	s := startServer(t)
	head := s.token("head", "bravo")
	var (
		mu    sync.Mutex
		auths []string
	)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, _ := r.BasicAuth()
		mu.Lock()
		auths = append(auths, u+":"+p)
		mu.Unlock()
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	u := fmt.Sprintf("http://hookuser:s3cr3t-pw@%s/hook?x=1", ln.Addr())
	sub := map[string]any{"url": u, "events": []string{"operation.declared"}}
	answers := []response{s.do("PUT", "/v1/webhooks/ops", head, sub).want(t, 201)}
	shown := jsonPath(answers[0].body, "webhook", "url").(string)
	if want := fmt.Sprintf("http://redacted@%s/hook?x=1", ln.Addr()); shown != want {
		t.Fatalf("url shown as %q, want %q", shown, want)
	}
	answers = append(answers, s.do("PUT", "/v1/webhooks/ops", head, sub).want(t, 200))
	// The URL as shown, put back with other events: the credentials stay.
	answers = append(answers, s.do("PUT", "/v1/webhooks/ops", head, map[string]any{"url": shown, "events": []string{"operation.declared", "conflict.opened"}}).want(t, 200))
	answers = append(answers, s.do("GET", "/v1/webhooks", head, nil).want(t, 200), s.do("GET", "/v1/webhooks", s.token("admin", ""), nil).want(t, 200))
	for _, r := range answers {
		if strings.Contains(string(r.raw), "s3cr3t") || strings.Contains(string(r.raw), "hookuser") {
			t.Fatalf("credentials shown: %s", r.raw)
		}
	}
	s.do("PUT", "/v1/operations/"+newID(), s.token("operator", "alpha"), decl("planned", circle(5, 5, 1000, 0, 100, at(3), at(4)))).want(t, 201)
	waitFor(t, 10*time.Second, "the delivery", func() bool { mu.Lock(); defer mu.Unlock(); return len(auths) == 1 })
	if auths[0] != "hookuser:s3cr3t-pw" {
		t.Fatalf("delivered with credentials %q", auths[0])
	}
}

// TestWebhookCapPerParty: a party has at most 16 webhooks; the 17th is
// refused (400, field name) while replacing one and other parties' are not.
func TestWebhookCapPerParty(t *testing.T) {
	s := startServer(t)
	head, headC := s.token("head", "bravo"), s.token("head", "charlie")
	sub := map[string]any{"url": "https://hooks.example.com/x", "events": []string{"operation.declared"}}
	for i := range 16 {
		s.do("PUT", fmt.Sprintf("/v1/webhooks/h%02d", i), head, sub).want(t, 201)
	}
	s.do("PUT", "/v1/webhooks/h16", head, sub).want(t, 400, "invalid_argument", "name")
	s.do("PUT", "/v1/webhooks/h03", head, sub).want(t, 200)
	s.do("PUT", "/v1/webhooks/h00", headC, sub).want(t, 201)
	if n := len(s.do("GET", "/v1/webhooks", head, nil).want(t, 200).list("webhooks")); n != 16 {
		t.Fatalf("%d webhooks", n)
	}
	s.do("DELETE", "/v1/webhooks/h05", head, nil).want(t, 200)
	s.do("PUT", "/v1/webhooks/h16", head, sub).want(t, 201)
}
