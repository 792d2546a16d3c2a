package federation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/lease"
	"github.com/deconflict/deconflict/mechanism"
	"golang.org/x/mod/sumdb/note"
)

// Options configure a Node. Zero values take defaults.
type Options struct {
	Logger *slog.Logger
	// Client makes the requests to peers; a client with a 60 s timeout
	// by default.
	Client *http.Client
	// Now is the clock (time.Now by default).
	Now func() time.Time
	// Wait is how long a pull waits at the peer for new entries (default
	// 10 s, and at most a third of peer_silence_s).
	Wait time.Duration
	// Refresh is how often the node reads its peers from the store
	// (default 1 s), to follow `federation peer add` and `remove`.
	Refresh time.Duration
	// Leaser grants the pull lease among the processes sharing the
	// store (links.go); by default the store's own leases (dc.Leaser),
	// and none for a store without (one process: it pulls).
	Leaser dc.Leaser
}

// Node is the federation side of a server: it serves its log to its
// peers, pulls theirs, and reports each link's state. Of several
// replicas of a node on one store, only the one holding the pull lease
// pulls (links.go).
type Node struct {
	mech *mechanism.Mechanism
	// store is the mechanism's, fenced by the pull lease (fencedStore).
	store dc.Store
	// leaser grants the pull lease among the processes sharing the
	// store; nil when the store has no leases (one process: it pulls).
	leaser dc.Leaser
	// pulls counts the pull requests this process sent.
	pulls atomic.Int64
	// echoLinger is how long the node holds a pull that only echoes woke
	// (awaitPage): echoLinger, or another length a test sets.
	echoLinger atomic.Int64 // a time.Duration
	log        *slog.Logger
	client     *http.Client
	now        func() time.Time
	wait       time.Duration
	every      time.Duration
	verify     *RequestVerifier
	start      time.Time

	mu    sync.Mutex
	peers map[string]*dc.Peer // by key, as last read from the store
	links map[string]*link    // by key
	url   string
	// pulling is set while this process pulls the peers; the links'
	// states are then its own, else those the puller stored, shared as
	// last read (Refresh). stored is what this process stored last.
	pulling        bool
	shared, stored linkRecords
	// seenHere are the LastSeen of shared as stored and as held here,
	// by peer key (onOwnClock).
	seenHere map[string]seenHere
	// forced is when a request of an unknown key last made the node
	// read its peers (readPeersSince), on the real clock.
	forced time.Time
	// readAt is when the latest read of the peers that succeeded began
	// (real clock); reread is closed, and replaced, whenever a read
	// ends, so that requests of unknown keys waiting for one wake.
	readAt time.Time
	reread chan struct{}
	// refused are the operations of the peers' refused entries, as last
	// read (refusedOf); replaced whole, never changed.
	refused map[refusedKey]*dc.Operation

	// refreshing serialises Refresh, so that the mechanism is told the
	// peers as the last read found them, not as an earlier one did.
	refreshing sync.Mutex
	// lastStatus is what Status last read from the store (statusRead).
	lastStatus *statusRead
}

// link is the state of the pull from one peer.
type link struct {
	cancel   context.CancelFunc
	done     chan struct{}
	lastSeen time.Time // last answer that verified; zero if none yet
	size     int64     // the peer's log size it last reported
	lastErr  string
	// since is when the node began to pull the peer (linkRecord.Since).
	since time.Time
	// parsed hands the entries the pull parsed to the applier.
	parsed parsedEntries
}

// New returns a node over the mechanism. Call Run to follow the peers.
func New(m *mechanism.Mechanism, opts Options) *Node {
	n := &Node{mech: m, store: fencedStore{m.Store()}, leaser: opts.Leaser, log: opts.Logger, client: opts.Client, now: opts.Now,
		wait: opts.Wait, every: opts.Refresh, peers: map[string]*dc.Peer{}, links: map[string]*link{},
		shared: linkRecords{}, reread: make(chan struct{})}
	if n.leaser == nil {
		n.leaser, _ = m.Store().(dc.Leaser)
	}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	if n.client == nil {
		n.client = &http.Client{Timeout: 60 * time.Second}
	}
	if n.now == nil {
		n.now = time.Now
	}
	if n.wait <= 0 {
		n.wait = 10 * time.Second
	}
	if n.every <= 0 {
		n.every = time.Second
	}
	n.echoLinger.Store(int64(echoLinger))
	n.start = n.now()
	n.verify = NewRequestVerifier(n.lookupKey, n.now)
	m.Federation().SetStaleCheck(n.stalePeers)
	return n
}

// federationTx returns tx as a FederationTx, or an error naming the store.
func federationTx(tx dc.Tx) (dc.FederationTx, error) {
	ftx, ok := tx.(dc.FederationTx)
	if !ok {
		return nil, errors.New("this store cannot hold a federation node")
	}
	return ftx, nil
}

// storedPeers returns tx as a federation transaction and the peers it
// stores, in the order they were added.
func storedPeers(ctx context.Context, tx dc.Tx) (dc.FederationTx, []*dc.Peer, error) {
	ftx, err := federationTx(tx)
	if err != nil {
		return nil, nil, err
	}
	peers, err := ftx.Peers(ctx)
	return ftx, peers, err
}

// Refresh reads the peers from the store, tells the mechanism which
// parties they host, and returns those this node trusts (not removed).
func (n *Node) Refresh(ctx context.Context) ([]*dc.Peer, error) {
	n.refreshing.Lock()
	defer n.refreshing.Unlock()
	began := time.Now()
	defer func() {
		n.mu.Lock()
		close(n.reread)
		n.reread = make(chan struct{})
		n.mu.Unlock()
	}()
	var peers []*dc.Peer
	var url string
	var refused mechanism.Refused
	shared := linkRecords{}
	err := n.store.View(ctx, func(tx dc.Tx) error {
		ftx, ok := tx.(dc.FederationTx)
		if !ok {
			return nil // a store without federation: a single server
		}
		var err error
		if url, err = ftx.NodeURL(ctx); err != nil {
			return err
		}
		if peers, err = ftx.Peers(ctx); err != nil {
			return err
		}
		if n.leaser != nil {
			if shared, err = readLinks(ctx, tx); err != nil {
				return err
			}
		}
		refused, err = n.refusedOf(ctx, ftx, peers)
		return err
	})
	if err != nil {
		return nil, err
	}
	n.mech.Federation().SetPeers(peers) // removed ones too: their parties stay hosted elsewhere
	n.mech.Federation().SetRefused(refused)
	byKey := map[string]*dc.Peer{}
	var trusted []*dc.Peer
	for _, p := range peers {
		if !p.Removed {
			byKey[p.Key] = p
			trusted = append(trusted, p)
		}
	}
	now := n.now()
	n.mu.Lock()
	n.onOwnClock(shared, now)
	n.peers, n.url, n.shared = byKey, url, shared
	n.readAt = began
	n.mu.Unlock()
	return trusted, nil
}

// lookupKey returns the verifier of a peer key.
func (n *Node) lookupKey(key string) (note.Verifier, bool) {
	n.mu.Lock()
	_, ok := n.peers[key]
	n.mu.Unlock()
	if !ok {
		return nil, false
	}
	v, err := verifierOf(key)
	return v, err == nil
}

// peer returns the peer with the key as last read.
func (n *Node) peer(key string) *dc.Peer {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.peers[key]
}

// Run reads the peers every Options.Refresh until ctx ends, which every
// replica of the node needs (to answer its peers, to know which parties
// they host, to show the links' states), and follows the peers: a pull
// per peer, started and stopped as peers are added and removed — on a
// store with leases only while this process holds the pull lease.
func (n *Node) Run(ctx context.Context) {
	pulled := make(chan struct{})
	go func() {
		defer close(pulled)
		if n.leaser == nil {
			n.pullPeers(ctx)
			return
		}
		lease.While(ctx, n.leaser, PullLease, n.log, n.pullPeers)
	}()
	defer func() { <-pulled }()
	for {
		if _, err := n.Refresh(ctx); err != nil && ctx.Err() == nil {
			n.log.Error("federation: read peers", slog.Any("error", err))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(n.every):
		}
	}
}

// pullPeers pulls the trusted peers, as the peers were last read, until
// ctx ends; with leases, it stores the links' states for the other
// replicas as they change (at most once every shareEvery) and when it
// stops. Under a lease that can tell (dc.FencedLease) it starts only once
// a write transaction found the lease held.
func (n *Node) pullPeers(ctx context.Context) {
	if _, ok := lease.Of(ctx).(dc.FencedLease); ok {
		// A write transaction that checks the lease comes first. Write
		// transactions are serialised, so it commits after every one of
		// the former holder's that found the lease still held: the
		// pulls start from all that the former holder kept, and any
		// later transaction of its fails its check.
		if err := n.store.Update(ctx, func(dc.Tx) error { return nil }); err != nil {
			if ctx.Err() == nil {
				n.log.Warn("federation: cannot start pulling the peers", slog.Any("error", err))
			}
			return
		}
	}
	defer n.stopAll(ctx)
	var sharedAt time.Time
	for {
		n.mu.Lock()
		peers := slices.Collect(maps.Values(n.peers))
		reread := n.reread
		n.mu.Unlock()
		n.follow(ctx, peers)
		if n.leaser != nil && time.Since(sharedAt) >= shareEvery {
			n.share(ctx, n.ownLinks())
			sharedAt = time.Now()
		}
		select {
		case <-ctx.Done():
			return
		case <-reread:
		}
	}
}

// Pulling reports whether this process pulls the peers: the one holding
// the pull lease among the replicas of a node, or the only process.
func (n *Node) Pulling() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.pulling
}

// Pulls returns how many pull requests this process sent to peers.
func (n *Node) Pulls() int64 { return n.pulls.Load() }

// follow starts a pull for each new peer and stops those of removed ones.
// A new link starts from the state the last puller stored for it, so that
// a replica taking the pull over goes on from where the other was.
func (n *Node) follow(ctx context.Context, peers []*dc.Peer) {
	n.mu.Lock()
	n.pulling = true
	want := map[string]bool{}
	for _, p := range peers {
		want[p.Key] = true
		if n.links[p.Key] != nil {
			continue
		}
		lctx, cancel := context.WithCancel(ctx)
		l := &link{cancel: cancel, done: make(chan struct{}), since: n.start}
		if r, ok := n.shared[p.Key]; ok {
			l.lastSeen, l.size, l.lastErr = r.LastSeen, r.Size, r.LastError
			if !r.Since.IsZero() && r.Since.Before(l.since) {
				l.since = r.Since
			}
		}
		n.links[p.Key] = l
		go func(key string) {
			defer close(l.done)
			n.pull(lctx, key, l)
		}(p.Key)
	}
	var gone []*link
	for key, l := range n.links {
		if !want[key] {
			gone = append(gone, l)
			delete(n.links, key)
		}
	}
	n.mu.Unlock()
	stop(gone) // without n.mu, which the pulls take to report
}

// stop ends the pulls of links and waits for them.
func stop(links []*link) {
	for _, l := range links {
		l.cancel()
	}
	for _, l := range links {
		<-l.done
	}
}

// stopAll ends every pull, started with ctx. With leases, the links'
// states as the pulls left them are stored for the replica that takes
// the pull over, unless the lease was lost (another replica may pull
// and store its own already), and this process shows them too from then
// on.
func (n *Node) stopAll(ctx context.Context) {
	n.mu.Lock()
	all := slices.Collect(maps.Values(n.links))
	n.mu.Unlock()
	stop(all) // the links stay until stopped: this process pulled them until then
	recs := n.ownLinks()
	n.mu.Lock()
	clear(n.links)
	n.pulling = false
	if n.leaser != nil {
		n.shared = recs
	}
	n.mu.Unlock()
	if n.leaser != nil {
		// ctx has ended, but carries the lease (fencedStore).
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		n.share(ctx, recs)
	}
}

// seen records a verified answer of a peer.
func (n *Node) seen(l *link, size int64) {
	n.mu.Lock()
	l.lastSeen, l.size, l.lastErr = n.now(), size, ""
	n.mu.Unlock()
}

// failed records why the last pull failed.
func (n *Node) failed(l *link, err error) {
	n.mu.Lock()
	l.lastErr = err.Error()
	n.mu.Unlock()
}

// state returns a link's state under the settings: up when the peer
// answered within peer_silence_s, stale when it did once but not since,
// down when it never answered since this node started and the node has
// been up longer than peer_silence_s. The node started when this process
// did, or when the pull of the peer began (r.Since) if earlier: a replica
// started later judges as the one that pulls. Called with n.mu held.
func (n *Node) state(r linkRecord, st dc.Settings) string {
	silence := time.Duration(st.PeerSilenceS * float64(time.Second))
	now := n.now()
	start := n.start
	if !r.Since.IsZero() && r.Since.Before(start) {
		start = r.Since
	}
	switch {
	case !r.LastSeen.IsZero() && now.Sub(r.LastSeen) <= silence:
		return dc.PeerUp
	case !r.LastSeen.IsZero():
		return dc.PeerStale
	case now.Sub(start) <= silence:
		return dc.PeerUp // not heard from yet, but not silent for long either
	}
	return dc.PeerDown
}

// stalePeers returns the keys of the peers not up (the mechanism's check
// before an activation).
func (n *Node) stalePeers(st dc.Settings) []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for key := range n.peers {
		if n.state(n.linkState(key), st) != dc.PeerUp {
			out = append(out, key)
		}
	}
	return out
}

// alert keeps an alert about a peer, on the record for this node's
// parties, and logs it.
func (n *Node) alert(ctx context.Context, key, kind, msg, evidence string) {
	if err := n.alertWith(ctx, key, kind, msg, evidence, nil); err != nil && ctx.Err() == nil {
		n.log.Error("federation: keep alert", slog.Any("error", err))
	}
}

// alertWith is alert with also run in the transaction that keeps the
// alert; it returns the error of that transaction.
func (n *Node) alertWith(ctx context.Context, key, kind, msg, evidence string, also func(dc.Tx) error) error {
	n.log.Warn("federation alert", slog.String("peer", keyName(key)), slog.String("kind", kind), slog.String("message", msg))
	a := &dc.PeerAlert{Peer: key, Kind: kind, Message: msg, Evidence: evidence, At: n.now().UTC()}
	return n.mech.Federation().KeepPeerAlertWith(ctx, a, also)
}

// updatePeer changes the stored peer with the key in tx.
func updatePeer(ctx context.Context, tx dc.Tx, key string, fn func(*dc.Peer) error) error {
	ftx, peers, err := storedPeers(ctx, tx)
	if err != nil {
		return err
	}
	for _, p := range peers {
		if p.Key == key {
			if err := fn(p); err != nil {
				return err
			}
			return ftx.PutPeer(ctx, p)
		}
	}
	return fmt.Errorf("peer %s was removed", keyName(key))
}

// Supported reports whether the store can hold a federation node.
func Supported(store dc.Store) bool {
	ok := false
	_ = store.View(context.Background(), func(tx dc.Tx) error {
		_, ok = tx.(dc.FederationTx)
		return nil
	})
	return ok
}
