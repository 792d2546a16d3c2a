package federation

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/record"
	"golang.org/x/mod/sumdb/tlog"
)

// pageLimit is how many entries a pull asks for at once.
const pageLimit = 500

// alertError is a pull refused because the peer sent something wrong: it
// is kept as an alert.
type alertError struct {
	kind, msg, evidence string
}

func (e *alertError) Error() string { return e.kind + ": " + e.msg }

// pull follows one peer's log until ctx ends: apply what is kept, fetch
// the next page (waiting at the peer for it), verify and keep it, apply
// it. Failures are retried with backoff; a cut link resumes from the
// last entry kept.
func (n *Node) pull(ctx context.Context, key string, l *link) {
	wake := make(chan struct{}, 1)
	applied := make(chan struct{})
	go func() { // apply what is kept while the next page is fetched
		defer close(applied)
		n.applyLoop(ctx, key, l, wake)
	}()
	defer func() { <-applied }()
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		began := time.Now()
		caughtUp, err := n.pullOnce(ctx, key, l, wake)
		if err == nil {
			backoff = 100 * time.Millisecond
			if d := time.Until(began.Add(pace)); caughtUp && d > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(d):
				}
			}
			continue
		}
		if ctx.Err() != nil {
			return
		}
		n.failed(l, err)
		var ae *alertError
		if !errors.As(err, &ae) {
			n.log.Debug("federation: pull failed", slog.String("peer", keyName(key)), slog.String("error", err.Error()))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// applyLoop applies the kept entries of the peer's log whenever the pull
// kept more (wake), and every second (after a failure, or a restart).
func (n *Node) applyLoop(ctx context.Context, key string, l *link, wake <-chan struct{}) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		if err := n.applyStored(ctx, key, &l.parsed); err != nil && ctx.Err() == nil {
			n.failed(l, err)
			n.log.Debug("federation: apply failed", slog.String("peer", keyName(key)), slog.String("error", err.Error()))
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-tick.C:
		}
	}
}

// pace is the least time between the starts of two rounds of a pull
// while the peer's log grows slower than it is pulled: a page that
// caught up with the peer's log is followed by the next no sooner, so
// that the entries of a busy peer travel in fuller pages, each round's
// signatures, verifications and commits shared by more of them, and at
// most pace later. (The peer holds a pull it woke as long: linger.) A
// pull that is behind goes on at once.
const pace = linger

// pullOnce runs one round of pull. It reports whether the round kept
// entries and caught up with the peer's log (as the peer last said its
// size): the next round may wait for more (pace).
func (n *Node) pullOnce(ctx context.Context, key string, l *link, wake chan<- struct{}) (bool, error) {
	sp, err := n.storedPeer(ctx, key)
	if err != nil {
		return false, err
	}
	st, err := n.mech.Settings().Get(ctx)
	if err != nil {
		return false, err
	}
	wait := min(n.wait, time.Duration(st.PeerSilenceS*float64(time.Second))/3)
	k, err := n.mech.Federation().NodeKey(ctx)
	if err != nil {
		return false, err
	}
	page, err := n.fetch(ctx, k, sp, sp.Verified, wait)
	var re *replyError
	if errors.As(err, &re) {
		n.log.Warn("federation: refused a peer's reply", slog.String("peer", keyName(key)), slog.String("url", sp.URL), slog.String("reason", re.msg))
		if re.replayed {
			n.alert(ctx, key, "replayed_reply", re.msg, "")
		}
	}
	if err != nil {
		return false, err
	}
	witness := n.ownWitness(ctx, sp, page.Witnessed, k.Verifier)
	applied, err := n.keep(ctx, key, page, k.Signer, witness, &l.parsed)
	if err != nil {
		var ae *alertError
		if errors.As(err, &ae) {
			n.alert(ctx, key, ae.kind, ae.msg, ae.evidence)
		}
		return false, err
	}
	n.seen(l, page.Size)
	if !applied {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	n.checkWitnessed(ctx, sp, page.Witnessed)
	got := int64(len(page.Entries))
	return got > 0 && sp.Verified+got >= page.Size, nil
}

// storedPeer reads the peer as stored.
func (n *Node) storedPeer(ctx context.Context, key string) (*dc.Peer, error) {
	var out *dc.Peer
	err := n.store.View(ctx, func(tx dc.Tx) error {
		_, peers, err := storedPeers(ctx, tx)
		if err != nil {
			return err
		}
		for _, p := range peers {
			if p.Key == key && !p.Removed {
				out = p
				return nil
			}
		}
		return fmt.Errorf("peer %s was removed", keyName(key))
	})
	return out, err
}

// fetch asks the peer for its log from entry from on, signing as k.
func (n *Node) fetch(ctx context.Context, k *dc.SigningKey, p *dc.Peer, from int64, wait time.Duration) (*LogPage, error) {
	signer, err := NewRequestSigner(k.Signer, k.Verifier)
	if err != nil {
		return nil, err
	}
	q := url.Values{"from": {strconv.FormatInt(from, 10)}, "limit": {strconv.Itoa(pageLimit)}, "wait": {strconv.FormatInt(wait.Milliseconds(), 10)},
		"to": {p.Key}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(p.URL, "/")+LogPath+"?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	if err := signer.Sign(req, nil, n.now()); err != nil {
		return nil, err
	}
	n.pulls.Add(1)
	resp, err := n.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("pull from %s: %w", p.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var b [512]byte
		m, _ := resp.Body.Read(b[:])
		return nil, fmt.Errorf("pull from %s: %s: %s", p.URL, resp.Status, strings.TrimSpace(string(b[:m])))
	}
	body, err := readBody(resp, MaxPage)
	if err != nil {
		return nil, fmt.Errorf("pull from %s: %w", p.URL, err)
	}
	if err := verifyReply(resp, body, req, p.Key, n.now()); err != nil {
		return nil, fmt.Errorf("pull from %s: %w", p.URL, err)
	}
	page, err := decodePage(body)
	if err != nil {
		return nil, &alertError{kind: "malformed", msg: err.Error()}
	}
	return page, nil
}

// peerHashes reads a peer's stored hashes, and those of the page being
// checked, as a tlog.HashReader.
type peerHashes struct {
	ctx     context.Context
	ftx     dc.FederationTx
	key     string
	pending map[int64]tlog.Hash
}

func (h *peerHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	var missing []int64
	var at []int
	for i, idx := range indexes {
		if v, ok := h.pending[idx]; ok {
			out[i] = v
		} else {
			missing = append(missing, idx)
			at = append(at, i)
		}
	}
	if len(missing) > 0 {
		got, err := h.ftx.PeerHashes(h.ctx, h.key, missing)
		if err != nil {
			return nil, err
		}
		for j, v := range got {
			out[at[j]] = v
		}
	}
	return out, nil
}

// keep verifies a page against the peer's key and everything kept of its
// log, and keeps it: the tree root of the page's signed checkpoint,
// recomputed from every leaf hash this node holds, must match. A rolled
// back, forked or rewritten log, an edited entry or a bad signature is
// an alertError and keeps nothing. It keeps witness, the peer's
// cosignature of this node's checkpoint (ownWitness), with the page. A
// page of node receipts it applies too, in the same transaction
// (applyInKeep), and reports that it did; the entries of any other page
// it parsed to check their form go to parsed, for the applier.
func (n *Node) keep(ctx context.Context, key string, page *LogPage, signer, witness string, parsed *parsedEntries) (applied bool, err error) {
	var events map[int64]parsedEntry
	err = n.store.Update(ctx, func(tx dc.Tx) error {
		events, applied = map[int64]parsedEntry{}, false
		ftx, peers, err := storedPeers(ctx, tx)
		if err != nil {
			return err
		}
		var p *dc.Peer
		for _, q := range peers {
			if q.Key == key && !q.Removed {
				p = q
			}
		}
		if p == nil {
			return fmt.Errorf("peer %s was removed", keyName(key))
		}
		_, tree, err := record.ParseCheckpoint([]byte(page.Checkpoint), p.Key)
		if err != nil {
			return &alertError{kind: "bad_signature", msg: err.Error(), evidence: page.Checkpoint}
		}
		from := p.Verified
		evidence := "kept:\n" + p.Checkpoint + "\nreceived:\n" + page.Checkpoint
		if tree.N < from {
			return &alertError{kind: "rollback", evidence: evidence,
				msg: fmt.Sprintf("the peer's log is rolled back: it signed %d entries before and now signs %d", from, tree.N)}
		}
		if len(page.Entries) > pageLimit {
			return &alertError{kind: "malformed",
				msg: fmt.Sprintf("the page holds %d entries, more than the %d asked for", len(page.Entries), pageLimit)}
		}
		if int64(len(page.Entries)) != tree.N-from || (len(page.Entries) > 0 && page.Entries[0].Index != from) {
			return &alertError{kind: "malformed",
				msg: fmt.Sprintf("the page from entry %d holds %d entries but its checkpoint is of %d", from, len(page.Entries), tree.N)}
		}
		r := &peerHashes{ctx: ctx, ftx: ftx, key: key, pending: map[int64]tlog.Hash{}}
		var hashes [][32]byte
		kept := make([]dc.PeerEntry, 0, len(page.Entries))
		for i := range page.Entries {
			we := &page.Entries[i]
			idx := from + int64(i)
			leaf, data, err := we.leaf()
			if err != nil {
				return &alertError{kind: "malformed", msg: fmt.Sprintf("entry %d: %v", idx, err)}
			}
			if data != nil {
				e, err := record.ParseEntry(data)
				if err != nil || e.Seq != idx+1 {
					return &alertError{kind: "malformed", evidence: string(data),
						msg: fmt.Sprintf("entry %d is not a log entry of that index: %v", idx, err)}
				}
				events[idx] = parsedEntry{leaf: leaf, event: e}
			}
			hs, err := tlog.StoredHashesForRecordHash(idx, leaf, r)
			if err != nil {
				return fmt.Errorf("hash entry %d of peer %s: %w", idx, keyName(key), err)
			}
			base := tlog.StoredHashIndex(0, idx)
			for j, h := range hs {
				r.pending[base+int64(j)] = h
				hashes = append(hashes, h)
			}
			kept = append(kept, dc.PeerEntry{Index: idx, LeafHash: leaf, Data: data})
		}
		root, err := tlog.TreeHash(tree.N, r)
		if err != nil {
			return fmt.Errorf("tree hash of peer %s: %w", keyName(key), err)
		}
		if root != tree.Hash {
			kind, msg := "rewritten", fmt.Sprintf("the peer signed a log of %d entries that does not extend the %d entries it signed before: an entry was edited or its history rewritten", tree.N, from)
			if tree.N == from {
				kind, msg = "fork", fmt.Sprintf("the peer signed two different logs of %d entries", tree.N)
			}
			return &alertError{kind: kind, msg: msg, evidence: evidence}
		}
		if len(hashes) > 0 {
			if err := ftx.PutPeerHashes(ctx, key, tlog.StoredHashIndex(0, from), hashes); err != nil {
				return err
			}
			if err := ftx.PutPeerEntries(ctx, key, kept); err != nil {
				return err
			}
		}
		newWitness := witness != "" && witness != p.Witness
		if newWitness {
			p.Witness = witness
		}
		if tree.N == p.Verified && p.Checkpoint != "" {
			if newWitness {
				return ftx.PutPeer(ctx, p)
			}
			return nil // nothing new: keep the checkpoint kept
		}
		co, err := record.Cosign([]byte(page.Checkpoint), signer, n.now())
		if err != nil {
			return err
		}
		if p.Applied == from {
			// The applier has nothing left before the page: a page of
			// node receipts is applied now, and otherwise the entries
			// withheld from this node it starts with, which change
			// nothing here (plan), are passed now rather than by a
			// commit more.
			if applied, err = n.applyInKeep(ctx, tx, p, kept, events); err != nil {
				return err
			}
			for _, e := range kept {
				if !applied && e.Data != nil {
					break
				}
				p.Applied = e.Index + 1
			}
		}
		p.Verified, p.Checkpoint, p.Cosigned = tree.N, page.Checkpoint, string(co)
		return ftx.PutPeer(ctx, p)
	})
	switch {
	case err != nil:
	case applied:
		n.mech.Federation().Kept()
	default:
		parsed.put(events)
	}
	return applied, err
}

// presizedPage is the most of a reply's declared length readBody sets
// aside before the body arrives.
const presizedPage = 4 << 20

// readBody reads a reply's body, up to max+1 bytes (so that a caller
// tells a body longer than max), into a buffer of the length the reply
// declares, if it declares one of at most max: io.ReadAll would grow its
// buffer, copying the body, a dozen times for a full page. Only
// presizedPage of the declared length is set aside at once, the rest as
// it arrives, so that what a peer only declares, before its reply is
// verified, costs the puller little memory.
func readBody(resp *http.Response, max int64) ([]byte, error) {
	n := resp.ContentLength
	if n <= 0 || n > max {
		return io.ReadAll(io.LimitReader(resp.Body, max+1))
	}
	r := io.LimitReader(resp.Body, max+1)
	b := make([]byte, 0, min(n, presizedPage)+1) // a byte more, to read the end in the buffer
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // longer than set aside: grow
		}
		m, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+m]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}
