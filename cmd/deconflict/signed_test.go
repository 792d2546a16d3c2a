package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSignedAcknowledgementsAndDeliveriesOnTheRecord: bravo registers its
// own key, receives alpha's declaration by webhook and acknowledges it with
// a signature; the evidence bundle proves both, offline.
func TestSignedAcknowledgementsAndDeliveriesOnTheRecord(t *testing.T) {
	s := startServer(t)
	opA, liB, headB, obs := s.token("operator", "alpha"), s.token("liaison", "bravo"), s.token("head", "bravo"), s.token("observer", "bravo")
	secret := strings.TrimSpace(s.mustRun("party", "key", "new", "bravo"))
	if !strings.HasPrefix(secret, "PRIVATE+KEY+bravo-") {
		t.Fatalf("party key new printed %q", secret)
	}
	keyFile := filepath.Join(t.TempDir(), "bravo.key")
	os.WriteFile(keyFile, []byte(secret+"\n"), 0o600)

	rc := &receiver{t: t}
	rc.listen("127.0.0.1:0")
	r := s.do("PUT", "/v1/webhooks/ops", headB, map[string]any{"url": "http://" + rc.addr, "events": []string{"operation.declared"}}).want(t, 201)
	rc.mu.Lock()
	rc.secret = r.body["secret"].(string)
	rc.mu.Unlock()

	id := newID()
	s.do("PUT", "/v1/operations/"+id, opA, decl("planned", circle(20, 20, 1000, 0, 100, at(4), at(5)))).want(t, 201)
	waitFor(t, 5*time.Second, "the webhook delivery", func() bool { return len(rc.types()) == 1 })

	// A signature that does not verify is refused and changes nothing.
	s.do("POST", "/v1/operations/"+id+"/ack", liB, map[string]any{"version": 1, "signed": "forged"}).want(t, 400, "invalid_argument", "signed")
	if _, errs, code := s.run("ack", "operation", id, "--sign-key", keyFile, "--server", s.base, "--token", liB); code != 0 {
		t.Fatalf("signed ack: exit %d: %s", code, errs)
	}

	// The delivery is put on the record a moment after the receiver answered.
	var bundle []byte
	waitFor(t, 5*time.Second, "the delivery on the record", func() bool {
		bundle = s.do("GET", "/v1/evidence/operations/"+id, obs, nil).want(t, 200).raw
		return strings.Contains(string(bundle), "webhook.delivered")
	})
	path := filepath.Join(t.TempDir(), "evidence.json")
	os.WriteFile(path, bundle, 0o600)
	key := strings.TrimSpace(s.mustRun("key", "show"))
	out, errs, code := s.run("verify", path, "--key", key)
	if code != 0 {
		t.Fatalf("verify: exit %d: %s", code, errs)
	}
	for _, want := range []string{"signed by bravo", "delivered to bravo"} {
		if !strings.Contains(out, want) {
			t.Errorf("timeline lacks %q:\n%s", want, out)
		}
	}
}
