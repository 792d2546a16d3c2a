package federation_test

import (
	"bytes"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/google/uuid"
)

// TestSignedReplies: a proxy on bravo's link strips the signature of its
// replies, then alters their bodies, then replays an earlier genuine
// reply: alpha's node refuses each (nothing of bravo's new operation
// reaches it, its link shows why), alerts only the replay (a valid
// signature made for another request), and catches up once the link is
// honest again.
func TestSignedReplies(t *testing.T) {
	dir := t.TempDir()
	alpha, bravo := newNode(t, dir, "alpha"), newNode(t, dir, "bravo")
	peerAll(t, alpha, bravo)
	waitConverged(t, alpha, bravo)

	var mu sync.Mutex
	var kept http.Header
	var keptBody []byte
	modes := []struct {
		name   string
		tamper func(h http.Header, body []byte) []byte
		reason string
		alert  bool
	}{
		{"unsigned", func(h http.Header, b []byte) []byte {
			mu.Lock()
			if kept == nil { // a genuine reply, replayed later
				kept, keptBody = h.Clone(), bytes.Clone(b)
			}
			mu.Unlock()
			h.Del("Signature")
			h.Del("Signature-Input")
			return b
		}, "not signed", false},
		{"altered", func(h http.Header, b []byte) []byte {
			return bytes.Replace(b, []byte(`"size":`), []byte(`"size": `), 1)
		}, "Content-Digest does not match", false},
		{"replayed", func(h http.Header, b []byte) []byte {
			mu.Lock()
			defer mu.Unlock()
			for k := range h {
				delete(h, k)
			}
			for k, v := range kept {
				h[k] = v
			}
			return bytes.Clone(keptBody)
		}, "another request", true},
	}
	start := time.Now().Add(3 * time.Hour).Truncate(time.Second)
	for _, m := range modes {
		bravo.proxy.mu.Lock()
		bravo.proxy.tamper = m.tamper
		bravo.proxy.mu.Unlock()
		time.Sleep(300 * time.Millisecond) // the pull under way ends
		id := uuid.NewString()
		d := mechanism.Declaration{Volumes: []dc.Volume4D{volume(10, 10, 2, 0, 1000, start, time.Hour)}}
		if _, err := bravo.mech.Declare(t.Context(), bravo.actor(dc.RoleOperator), id, d, nil); err != nil {
			t.Fatal(err)
		}
		var lastErr string
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !strings.Contains(lastErr, m.reason); time.Sleep(100 * time.Millisecond) {
			st, err := alpha.node.Status(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			lastErr = st.Peers[0].LastError
		}
		if !strings.Contains(lastErr, m.reason) {
			t.Errorf("%s replies: alpha's link shows %q, want %q", m.name, lastErr, m.reason)
		}
		if _, err := alpha.mech.Operation(t.Context(), alpha.actor(dc.RoleHead), id); err == nil {
			t.Errorf("%s replies: bravo's operation reached alpha", m.name)
		}
		_, alerts := statusOf(t, alpha, "bravo")
		replayAlert := false
		for _, a := range alerts {
			replayAlert = replayAlert || strings.HasPrefix(a, "replayed_reply")
		}
		if replayAlert != m.alert {
			t.Errorf("%s replies: alerts %v", m.name, alerts)
		}
	}
	bravo.proxy.mu.Lock()
	bravo.proxy.tamper = nil
	bravo.proxy.mu.Unlock()
	waitConverged(t, alpha, bravo)
}
