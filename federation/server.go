package federation

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	dc "github.com/deconflict/deconflict"
)

// MaxWait is the longest a pull may wait at the node for new entries.
const MaxWait = 30 * time.Second

// linger is how long a waiting pull that new entries woke waits for more.
const linger = 20 * time.Millisecond

// Handler serves the peer protocol (LogPath) to the node's peers: only
// requests signed by a peer's key are answered; anything else gets 401.
func (n *Node) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+LogPath, n.serveLog)
	mux.HandleFunc("/federation/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, dc.ENotFound, "no peer endpoint "+r.Method+" "+r.URL.Path)
	})
	return mux
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

// authenticate verifies a peer request and returns the peer.
func (n *Node) authenticate(r *http.Request) (*dc.Peer, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	key, err := n.verify.Verify(r, body)
	if err != nil && errors.Is(err, ErrUnauthenticated) && n.mayRefresh(keyIDOf(r)) {
		// A peer added since the last refresh is known at once.
		if _, rerr := n.Refresh(r.Context()); rerr == nil {
			key, err = n.verify.Verify(r, body)
		}
	}
	if err != nil {
		return nil, err
	}
	p := n.peer(key)
	if p == nil {
		return nil, ErrUnauthenticated
	}
	return p, nil
}

// mayRefresh reports whether a request refused for its key should make
// the node read its peers again before refusing it: only when the key it
// claims is a well-formed key of no peer known, and at most once per
// refresh period, so that anyone who can reach the port cannot make
// every request of theirs cost a read of the store.
func (n *Node) mayRefresh(key string) bool {
	if key == "" || n.peer(key) != nil {
		return false
	}
	if _, err := verifierOf(key); err != nil {
		return false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	now := n.now()
	if !n.forced.IsZero() && now.Sub(n.forced) < n.every {
		return false
	}
	n.forced = now
	return true
}

// addressedHere checks the signed "to" of a peer request: the key of the
// node it is for. A peer's signature does not cover the host it sent the
// request to, so without it a node that received a signed request could
// replay it, within the signature window, to another node that trusts
// the signer, and read that node's log as the signer's parties see it.
func (n *Node) addressedHere(ctx context.Context, to string) error {
	k, err := n.mech.Federation().NodeKey(ctx)
	if err != nil {
		return err
	}
	if to != k.Verifier {
		return fmt.Errorf("%w: the request is for the node of key %q, not this one", ErrUnauthenticated, keyName(to))
	}
	return nil
}

// keyIDOf returns the keyid a request claims, or "".
func keyIDOf(r *http.Request) string {
	_, p, err := parseSignatureInput(r.Header.Get("Signature-Input"))
	if err != nil {
		return ""
	}
	return p.keyID
}

// serveLogTo answers a page of the node's log as the peer may see it.
func (n *Node) serveLogTo(w http.ResponseWriter, r *http.Request) {
	p, err := n.authenticate(r)
	if err != nil {
		n.log.Warn("federation: refused a peer request", slog.String("remote", r.RemoteAddr), slog.String("reason", err.Error()))
		writeError(w, http.StatusUnauthorized, dc.EUnauthenticated, err.Error())
		return
	}
	q := r.URL.Query()
	if err := n.addressedHere(r.Context(), q.Get("to")); err != nil {
		n.log.Warn("federation: refused a peer request", slog.String("remote", r.RemoteAddr), slog.String("peer", keyName(p.Key)), slog.String("reason", err.Error()))
		writeError(w, http.StatusUnauthorized, dc.EUnauthenticated, err.Error())
		return
	}
	from, err := strconv.ParseInt(q.Get("from"), 10, 64)
	if err != nil || from < 0 {
		writeError(w, http.StatusBadRequest, dc.EInvalid, "from: want an entry index, 0 or more")
		return
	}
	limit := 500
	if s := q.Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 {
			writeError(w, http.StatusBadRequest, dc.EInvalid, "limit: want a positive number")
			return
		}
	}
	var wait time.Duration
	if s := q.Get("wait"); s != "" {
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil || ms < 0 {
			writeError(w, http.StatusBadRequest, dc.EInvalid, "wait: want milliseconds, 0 or more")
			return
		}
		wait = min(time.Duration(ms)*time.Millisecond, MaxWait)
	}
	deadline := time.Now().Add(wait)
	waited := false
	for {
		changed := n.mech.Changed()
		cp, entries, size, err := n.mech.Federation().PeerLog(r.Context(), p.Parties, from, limit)
		if err != nil {
			if r.Context().Err() == nil {
				n.log.Error("federation: serve log", slog.Any("error", err))
			}
			writeError(w, http.StatusInternalServerError, dc.EInternal, "internal error")
			return
		}
		left := time.Until(deadline)
		if len(entries) > 0 && waited && len(entries) < limit {
			// New entries woke a waiting pull: let a few more commits
			// join them, so that a busy node sends fewer, fuller pages.
			waited = false
			select {
			case <-time.After(linger):
			case <-r.Context().Done():
				return
			}
			continue
		}
		if len(entries) > 0 || left <= 0 || from > size {
			page := &LogPage{Checkpoint: string(cp), Size: size, Entries: make([]WireEntry, len(entries)), Witnessed: n.witnessed(p.Key)}
			for i, e := range entries {
				we := WireEntry{Index: e.Index}
				if e.Data != nil {
					s := string(e.Data)
					we.Data = &s
				} else {
					we.LeafHash = base64.StdEncoding.EncodeToString(e.LeafHash[:])
				}
				page.Entries[i] = we
			}
			b, err := encodePage(page)
			if err != nil {
				writeError(w, http.StatusInternalServerError, dc.EInternal, "internal error")
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(b)
			return
		}
		// Wait for a commit here, or poll for another process's.
		waited = true
		t := time.NewTimer(min(left, time.Second))
		select {
		case <-changed:
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
		t.Stop()
	}
}

// witnessed returns the cosigned checkpoints of every peer, the
// puller's own among them: the other peers' let it check that their logs
// show it the same history; its own gives it this node's cosignature,
// which it serves with its checkpoint.
func (n *Node) witnessed(string) []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for _, p := range n.peers {
		if p.Cosigned != "" {
			out = append(out, p.Cosigned)
		}
	}
	return out
}
