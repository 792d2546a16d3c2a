package federation_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"strings"
	"sync"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/federation"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/record"
	"github.com/google/uuid"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// hostileLog is a log a hostile node builds by hand: entries in the
// canonical form, their Merkle tree, and checkpoints signed with a key
// of its choosing. A test may add to it while the hostile node serves
// pages of it: add and page take mu.
type hostileLog struct {
	mu      sync.Mutex
	entries [][]byte
	hashes  map[int64]tlog.Hash
}

func (h *hostileLog) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, idx := range indexes {
		v, ok := h.hashes[idx]
		if !ok {
			return nil, fmt.Errorf("no hash %d", idx)
		}
		out[i] = v
	}
	return out, nil
}

// add appends an event as entry len(entries).
func (h *hostileLog) add(t *testing.T, e *dc.Event) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.hashes == nil {
		h.hashes = map[int64]tlog.Hash{}
	}
	n := int64(len(h.entries))
	e.Seq = n + 1
	data := record.EntryBytes(e)
	hs, err := tlog.StoredHashes(n, data, h)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range hs {
		h.hashes[tlog.StoredHashIndex(0, n)+int64(i)] = v
	}
	h.entries = append(h.entries, data)
}

// checkpoint signs the tree of the first n entries with signer.
func (h *hostileLog) checkpoint(t *testing.T, n int64, signer string) string {
	t.Helper()
	root, err := tlog.TreeHash(n, h)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(signer)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := note.Sign(&note.Note{Text: fmt.Sprintf("hotel\n%d\n%s\n", n, root)}, s)
	if err != nil {
		t.Fatal(err)
	}
	return string(msg)
}

// page returns the page of h from entry from up to n, signed by signer.
func (h *hostileLog) page(t *testing.T, from, n int64, signer string) *federation.LogPage {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := &federation.LogPage{Checkpoint: h.checkpoint(t, n, signer), Size: n, Entries: []federation.WireEntry{}}
	for i := from; i < n; i++ {
		s := string(h.entries[i])
		p.Entries = append(p.Entries, federation.WireEntry{Index: i, Data: &s})
	}
	return p
}

// hostilePeer serves whatever page its serve function makes, to anyone.
type hostilePeer struct {
	hs       *httptest.Server
	mu       sync.Mutex
	serve    func(from int64) *federation.LogPage
	serveReq func(r *http.Request, from int64) *federation.LogPage // by requester, if set
	signer   *federation.RequestSigner                             // signs its replies, as any node does
}

func newHostilePeer(t *testing.T) *hostilePeer {
	h := &hostilePeer{}
	h.hs = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var from int64
		fmt.Sscan(r.URL.Query().Get("from"), &from)
		h.mu.Lock()
		serve := h.serve
		if h.serveReq != nil {
			serve = func(from int64) *federation.LogPage { return h.serveReq(r, from) }
		}
		h.mu.Unlock()
		if serve == nil {
			http.Error(w, "not now", http.StatusServiceUnavailable)
			return
		}
		b, _ := jsonMarshal(serve(from))
		w.Header().Set("Content-Type", "application/json")
		h.mu.Lock()
		signer := h.signer
		h.mu.Unlock()
		if signer != nil {
			if err := signer.SignReply(w.Header(), r, http.StatusOK, b, time.Now()); err != nil {
				panic(err)
			}
		}
		w.Write(b)
	}))
	t.Cleanup(h.hs.Close)
	return h
}

// signWith makes the peer sign its replies with key.
func (h *hostilePeer) signWith(t *testing.T, key *dc.SigningKey) {
	s, err := federation.NewRequestSigner(key.Signer, key.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	h.signer = s
	h.mu.Unlock()
}

func (h *hostilePeer) set(fn func(from int64) *federation.LogPage) {
	h.mu.Lock()
	h.serve = fn
	h.mu.Unlock()
}

// waitAlert waits until the node shows an alert of the kind about the
// peer hosting party, in GET /v1/federation and in its log.
func waitAlert(t *testing.T, n *testNode, party, kind string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		_, alerts := statusOf(t, n, party)
		for _, a := range alerts {
			if strings.HasPrefix(a, kind+":") {
				if !strings.Contains(n.logs.String(), "kind="+kind) {
					t.Errorf("alert %q is not in the node's log", a)
				}
				evs, _ := n.mech.Events(t.Context(), n.actor(dc.RoleHead), 0, 10000)
				onRecord := false
				for _, e := range evs {
					onRecord = onRecord || (e.Type == dc.EventFederationAlert && strings.Contains(string(e.Data), `"kind":"`+kind+`"`))
				}
				if !onRecord {
					t.Errorf("alert %q is not among the events %s's head follows", a, n.party)
				}
				t.Logf("alert: %s", a)
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, alerts := statusOf(t, n, party)
	t.Fatalf("no %s alert about %s; alerts: %q", kind, party, alerts)
}

func hostileOperation(t *testing.T, party string) *dc.Event {
	start := time.Now().Add(5 * time.Hour).Truncate(time.Second)
	op := &dc.Operation{ID: uuid.NewString(), Party: party, Version: 1, State: dc.StatePlanned,
		Volumes:   []dc.Volume4D{volume(20, 20, 1, 0, 500, start, time.Hour)},
		CreatedAt: time.Now().UTC().Truncate(time.Microsecond), UpdatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	b, _ := jsonMarshal(mechanism.OperationEventData{Operation: op})
	return &dc.Event{Type: dc.EventOperationDeclared, Time: op.CreatedAt, Actor: dc.Actor{Party: party, Role: dc.RoleOperator},
		Subject: &dc.Subject{Kind: "operation", ID: op.ID}, Data: b}
}

// TestHostilePeer: a node that speaks the protocol but lies is refused,
// and each lie is named in the node's log and in /v1/federation.
func TestHostilePeer(t *testing.T) {
	bravo := newNode(t, t.TempDir(), "bravo")
	hostile := newHostilePeer(t)
	key, err := record.NewKey("hotel-k1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	hostile.signWith(t, key)
	if _, err := federation.AddPeer(t.Context(), bravo.mech, &federation.Descriptor{Parties: []string{"hotel"}, URL: hostile.hs.URL, Key: key.Verifier}); err != nil {
		t.Fatal(err)
	}
	var log hostileLog
	own := hostileOperation(t, "hotel")
	log.add(t, own)                          // entry 0: its own party's operation, which is applied
	log.add(t, hostileOperation(t, "bravo")) // entry 1: an operation "of bravo", forged
	hostile.set(func(from int64) *federation.LogPage { return log.page(t, from, 2, key.Signer) })
	waitAlert(t, bravo, "hotel", "forged")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, err := bravo.mech.Operation(t.Context(), dc.Actor{Role: dc.RoleAdmin}, own.Subject.ID)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hotel's own operation was not applied: %v", err)
		}
	}

	t.Run("edited entry", func(t *testing.T) {
		edited := hostileLog{}
		first := hostileOperation(t, "hotel")
		first.Subject.ID = own.Subject.ID
		edited.add(t, first) // entry 0 rewritten
		edited.add(t, hostileOperation(t, "hotel"))
		edited.add(t, hostileOperation(t, "hotel"))
		hostile.set(func(from int64) *federation.LogPage { return edited.page(t, from, 3, key.Signer) })
		waitAlert(t, bravo, "hotel", "rewritten")
	})
	t.Run("two histories of one size", func(t *testing.T) {
		other := hostileLog{}
		other.add(t, hostileOperation(t, "hotel"))
		other.add(t, hostileOperation(t, "hotel"))
		hostile.set(func(from int64) *federation.LogPage { return other.page(t, 2, 2, key.Signer) })
		waitAlert(t, bravo, "hotel", "fork")
	})
	t.Run("rolled back log", func(t *testing.T) {
		hostile.set(func(from int64) *federation.LogPage { return log.page(t, 1, 1, key.Signer) })
		waitAlert(t, bravo, "hotel", "rollback")
	})
	t.Run("a key it is not", func(t *testing.T) {
		other, _ := record.NewKey("hotel-k1", time.Now())
		hostile.set(func(from int64) *federation.LogPage { return log.page(t, from, 2, other.Signer) })
		waitAlert(t, bravo, "hotel", "bad_signature")
	})
	var peers []*dc.Peer
	bravo.store.View(t.Context(), func(tx dc.Tx) (err error) { peers, err = tx.(dc.FederationTx).Peers(t.Context()); return err })
	if len(peers) != 1 || peers[0].Verified != 2 {
		t.Errorf("after the lies bravo keeps %+v, want the 2 entries first verified", peers)
	}
}

// TestPeerAuthentication: only requests signed by a peer's key, fresh
// and never seen before, are answered.
func TestPeerAuthentication(t *testing.T) {
	dir := t.TempDir()
	alpha, bravo := newNode(t, dir, "alpha"), newNode(t, dir, "bravo")
	peerAll(t, alpha, bravo)
	url := alpha.hs.URL + federation.LogPath + "?from=0&limit=10&to=" + neturl.QueryEscape(alpha.descriptor(t).Key)
	get := func(sign func(*http.Request)) (int, string) {
		req, _ := http.NewRequestWithContext(context.Background(), "GET", url, nil)
		sign(req)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	bk, _ := bravo.mech.Federation().NodeKey(t.Context())
	signer, err := federation.NewRequestSigner(bk.Signer, bk.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	var replay http.Header
	if status, body := get(func(r *http.Request) { signer.Sign(r, nil, time.Now()); replay = r.Header.Clone() }); status != 200 {
		t.Fatalf("bravo's signed request: %d %s", status, body)
	}
	stranger, _ := record.NewKey("stranger-k1", time.Now())
	strangerSigner, _ := federation.NewRequestSigner(stranger.Signer, stranger.Verifier)
	for name, sign := range map[string]func(*http.Request){
		"unsigned":    func(*http.Request) {},
		"unknown key": func(r *http.Request) { strangerSigner.Sign(r, nil, time.Now()) },
		"replayed":    func(r *http.Request) { r.Header = replay },
		"old":         func(r *http.Request) { signer.Sign(r, nil, time.Now().Add(-time.Minute)) },
		"bravo's key id, another key": func(r *http.Request) {
			strangerSigner.Sign(r, nil, time.Now())
			r.Header.Set("Signature-Input", strings.Replace(r.Header.Get("Signature-Input"), stranger.Verifier, bk.Verifier, 1))
		},
		"edited query": func(r *http.Request) {
			signer.Sign(r, nil, time.Now())
			r.URL.RawQuery = "from=0&limit=11"
		},
	} {
		if status, body := get(sign); status != 401 {
			t.Errorf("%s request: %d %s, want 401", name, status, body)
		}
	}
	if !strings.Contains(alpha.logs.String(), "refused a peer request") {
		t.Errorf("the refusals are not in alpha's log")
	}
}

// TestEquivocation: a node that shows two peers two different histories
// is caught by the peers witnessing each other's view of its log.
func TestEquivocation(t *testing.T) {
	dir := t.TempDir()
	bravo, charlie := newNode(t, dir, "bravo"), newNode(t, dir, "charlie")
	peerAll(t, bravo, charlie)
	hostile := newHostilePeer(t)
	key, _ := record.NewKey("hotel-k1", time.Now())
	hostile.signWith(t, key)
	d := &federation.Descriptor{Parties: []string{"hotel"}, URL: hostile.hs.URL, Key: key.Verifier}
	for _, n := range []*testNode{bravo, charlie} {
		if _, err := federation.AddPeer(t.Context(), n.mech, d); err != nil {
			t.Fatal(err)
		}
	}
	var one, two hostileLog
	for range 2 {
		one.add(t, hostileOperation(t, "hotel"))
		two.add(t, hostileOperation(t, "hotel"))
	}
	bk := bravo.descriptor(t).Key
	hostile.mu.Lock()
	hostile.serveReq = func(r *http.Request, from int64) *federation.LogPage {
		if strings.Contains(r.Header.Get("Signature-Input"), bk) {
			return one.page(t, from, 2, key.Signer)
		}
		return two.page(t, from, 2, key.Signer)
	}
	hostile.mu.Unlock()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		for _, n := range []*testNode{bravo, charlie} {
			_, alerts := statusOf(t, n, "hotel")
			for _, a := range alerts {
				if strings.HasPrefix(a, "equivocation:") {
					t.Logf("%s: %s", n.party, a)
					return
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("neither honest node caught the two histories")
}
