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
	"github.com/deconflict/deconflict/mechanism"
)

// MaxWait is the longest a pull may wait at the node for new entries.
const MaxWait = 30 * time.Second

// linger is how long a waiting pull that new entries woke waits for more.
const linger = 20 * time.Millisecond

// echoLinger is how long a waiting pull that only echoes of the puller's
// own work woke (awaitPage) waits for more: its receipts and the copies
// of its entries carry nothing it must act on soon, so many commits of
// them share one round of its pull. It is short beside the silence after
// which a peer is stale and beside how soon anyone looks for a receipt,
// and long beside linger, so that a node pulling a peer that only follows
// it makes a few rounds a second, not one per linger.
const echoLinger = 250 * time.Millisecond

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
	arrived := time.Now()
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	key, err := n.verify.Verify(r, body)
	if err != nil && errors.Is(err, ErrUnauthenticated) && n.unknownKey(keyIDOf(r)) {
		// A peer added since the node last read its peers (`federation
		// peer add`, maybe by another process) is known once it has read
		// them again.
		if rerr := n.readPeersSince(r.Context(), arrived); rerr == nil {
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

// unknownKey reports whether key is a well-formed key of no peer the
// node knows: a request signed by it is refused unless the node, reading
// its peers again, finds it.
func (n *Node) unknownKey(key string) bool {
	if key == "" || n.peer(key) != nil {
		return false
	}
	_, err := verifierOf(key)
	return err == nil
}

// newPeerWait is the longest a request signed by a key of no known peer
// waits for the node to read its peers again (readPeersSince). It is
// longer than the default refresh period, so that a peer added a moment
// before its first request is answered rather than refused.
const newPeerWait = 2 * time.Second

// readPeersSince makes sure the node's peers were read from the store
// after t, when a request of an unknown key arrived: a read begun after
// t (the periodic one of Run, or one another such request made) is
// waited for, and the node reads them itself if none came and it has
// not done so for a request within the refresh period. So a peer stored
// before its request arrived is never refused, while anyone who can
// reach the port makes the node read its store at most once per refresh
// period, however many requests they send. A request that would wait
// longer than newPeerWait (a node configured with a long refresh period)
// is refused at once; it returns an error, and the request is refused,
// if the peers could not be read after t.
func (n *Node) readPeersSince(ctx context.Context, t time.Time) error {
	for {
		n.mu.Lock()
		if !n.readAt.Before(t) {
			n.mu.Unlock()
			return nil
		}
		reread := n.reread
		// The rate limit is on real time: it bounds the work strangers
		// can cause, whatever the clock the node's protocol runs on.
		wait := n.every - time.Since(n.forced)
		if n.forced.IsZero() || wait <= 0 {
			n.forced = time.Now()
			n.mu.Unlock()
			_, err := n.Refresh(ctx)
			return err
		}
		n.mu.Unlock()
		if time.Since(t)+wait > newPeerWait {
			return fmt.Errorf("%w: the node reads its peers again in %s", ErrUnauthenticated, wait)
		}
		timer := time.NewTimer(wait)
		select {
		case <-reread:
		case <-timer.C:
		case <-ctx.Done():
		}
		timer.Stop()
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// addressedHere checks the signed "to" of a peer request: the key of the
// node it is for. A peer's signature does not cover the host it sent the
// request to, so without it a node that received a signed request could
// replay it, within the signature window, to another node that trusts
// the signer, and read that node's log as the signer's parties see it.
// Any key the node ever signed with names it (a rotated key still
// does); any other is refused.
func (n *Node) addressedHere(ctx context.Context, to string) error {
	ok, err := n.mech.Federation().IsNodeKey(ctx, to)
	if err != nil {
		return err
	}
	if !ok {
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
func (n *Node) serveLogTo(w *signedReply, r *http.Request) {
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
	if wait > 0 {
		err = n.awaitPage(r.Context(), p.Parties, from, limit, deadline)
	}
	var pp *mechanism.PeerPage
	if err == nil {
		pp, err = n.mech.Federation().PeerLog(r.Context(), p.Parties, from, limit)
	}
	if err != nil {
		if r.Context().Err() != nil {
			return
		}
		n.log.Error("federation: serve log", slog.Any("error", err))
		writeError(w, http.StatusInternalServerError, dc.EInternal, "internal error")
		return
	}
	w.key = pp.Key
	page := &LogPage{Checkpoint: string(pp.Checkpoint), Size: pp.Size, Entries: make([]WireEntry, len(pp.Entries)), Witnessed: n.witnessed(p.Key)}
	for i, e := range pp.Entries {
		we := WireEntry{Index: e.Index}
		if e.Data != nil {
			s := string(e.Data)
			we.Data = &s
		} else {
			we.LeafHash = base64.StdEncoding.EncodeToString(e.LeafHash[:])
		}
		page.Entries[i] = we
	}
	w.Header().Set("Content-Type", "application/json")
	if err := writePage(w, page); err != nil {
		writeError(w, http.StatusInternalServerError, dc.EInternal, "internal error")
	}
}

// awaitPage holds a pull of the node's log from entry from on (at most
// limit entries) by a peer hosting parties until a page is worth
// answering or deadline passes. A page that holds an entry that is not
// an echo for the peer (mechanism.PeerLogEchoes), or is full, is answered
// at once, or after linger when a commit woke the pull, so that a few
// more commits join it; echoes alone are held until echoLinger has
// passed since the first of them was seen, so that a peer that only
// follows this node pays one round of its pull for many commits of them,
// and never waits longer for this node's own entries. Each commit costs
// the hold one read of the entries it added, and nothing is signed until
// the page is.
func (n *Node) awaitPage(ctx context.Context, parties []string, from int64, limit int, deadline time.Time) error {
	echoLinger := time.Duration(n.echoLinger.Load())
	// The page is full when the log reaches end; the entries from from
	// up to checked are echoes, the first of which was seen at echoSince.
	end := from + int64(min(limit, mechanism.MaxPeerLogPage))
	checked := from
	var echoSince time.Time
	woken := false
	for {
		changed := n.mech.Changed()
		size, echoes, err := n.mech.Federation().PeerLogEchoes(ctx, parties, checked, int(end-checked))
		switch {
		case err != nil:
			return err
		case size < from: // the puller claims more than the log holds
			return nil
		case size <= checked:
		case !echoes:
			if woken && size < end {
				select {
				case <-time.After(linger):
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return nil
		default:
			if echoSince.IsZero() {
				echoSince = time.Now()
			}
			checked = size
		}
		until := deadline
		if held := echoSince.Add(echoLinger); !echoSince.IsZero() && held.Before(until) {
			until = held
		}
		left := time.Until(until)
		if left <= 0 {
			return nil
		}
		// Wait for a commit here, or poll for another process's.
		t := time.NewTimer(min(left, time.Second))
		select {
		case <-changed:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		t.Stop()
		woken = true
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
