package notify

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
)

// What the deliverer's tests share: webhooks and events put in a store as
// the mechanism puts them, and a receiver that records what it was sent.

// addHook creates a webhook as the mechanism does: a fresh secret, and
// delivery starting after the last event.
func addHook(t testing.TB, s dc.Store, party, name, url string, events ...string) *dc.Webhook {
	t.Helper()
	var key [32]byte
	rand.Read(key[:])
	now := time.Now().UTC().Truncate(time.Millisecond)
	w := &dc.Webhook{Party: party, Name: name, URL: url, Events: events, CreatedAt: now, UpdatedAt: now,
		Secret: "whsec_" + base64.StdEncoding.EncodeToString(key[:])}
	err := s.Update(context.Background(), func(tx dc.Tx) error {
		last, err := tx.LastSeq(context.Background())
		if err != nil {
			return err
		}
		w.Delivery.DeliveredSeq = last
		return tx.PutWebhook(context.Background(), w)
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

var eventTime = time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)

// appendEvent stores an event of the type, seen by the audience (every
// party if none).
func appendEvent(t testing.TB, s dc.Store, typ string, audience ...string) *dc.Event {
	t.Helper()
	e := &dc.Event{Type: typ, Time: eventTime, Actor: dc.Actor{Party: "alpha", Role: dc.RoleOperator},
		Subject: &dc.Subject{Kind: "operation", ID: "op-1"}, Audience: audience, Data: json.RawMessage(`{"note":"n"}`)}
	err := s.Update(context.Background(), func(tx dc.Tx) error { return tx.AppendEvent(context.Background(), e) })
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func getHook(t *testing.T, s dc.Store, party, name string) *dc.Webhook {
	t.Helper()
	var w *dc.Webhook
	err := s.View(context.Background(), func(tx dc.Tx) (err error) {
		w, err = tx.Webhook(context.Background(), party, name)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func eventBody(t *testing.T, s dc.Store, seq int64) []byte {
	t.Helper()
	var evs []*dc.Event
	err := s.View(context.Background(), func(tx dc.Tx) (err error) {
		evs, err = tx.Events(context.Background(), seq-1, 1)
		return err
	})
	if err != nil || len(evs) != 1 {
		t.Fatalf("event %d: %v", seq, err)
	}
	b, err := dc.EventJSON(evs[0])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type request struct {
	header http.Header
	body   []byte
}

func (r request) id() string { return r.header.Get(HeaderID) }

// receiver is a webhook receiver on loopback. answer decides the status
// of the n-th request (from 0); nil answers 200.
type receiver struct {
	srv    *httptest.Server
	answer func(n int, r *http.Request) int
	mu     sync.Mutex
	reqs   []request
}

func newReceiver(t testing.TB, answer func(n int, r *http.Request) int) *receiver {
	rc := &receiver{answer: answer}
	rc.srv = httptest.NewServer(rc)
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	n := len(rc.reqs)
	rc.reqs = append(rc.reqs, request{r.Header.Clone(), body})
	rc.mu.Unlock()
	status := http.StatusOK
	if rc.answer != nil {
		status = rc.answer(n, r)
	}
	w.WriteHeader(status)
}

func (rc *receiver) got() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.reqs)
}

func ids(reqs []request) []string {
	var out []string
	for _, r := range reqs {
		out = append(out, r.id())
	}
	return out
}

// waitFor polls cond for up to 5s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// closedAddr returns a loopback address that nothing listens on: one that
// was free a moment ago.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	return l.Addr().String()
}
