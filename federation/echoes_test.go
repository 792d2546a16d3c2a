package federation_test

import (
	"encoding/json"
	"io"
	"net/http"
	neturl "net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/federation"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/google/uuid"
)

// pullAs pulls n's log from entry from on as node as's node does (signed
// by its key), waiting up to wait for entries, and returns the page.
func pullAs(t *testing.T, as, n *testNode, from int64, limit int, wait time.Duration) (*federation.LogPage, error) {
	k, err := as.mech.Federation().NodeKey(t.Context())
	if err != nil {
		return nil, err
	}
	signer, err := federation.NewRequestSigner(k.Signer, k.Verifier)
	if err != nil {
		return nil, err
	}
	q := neturl.Values{"from": {strconv.FormatInt(from, 10)}, "limit": {strconv.Itoa(limit)},
		"wait": {strconv.FormatInt(wait.Milliseconds(), 10)}, "to": {n.descriptor(t).Key}}
	req, _ := http.NewRequestWithContext(t.Context(), "GET", n.hs.URL+federation.LogPath+"?"+q.Encode(), nil)
	if err := signer.Sign(req, nil, time.Now()); err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &pullError{resp.StatusCode, string(body)}
	}
	var page federation.LogPage
	return &page, json.Unmarshal(body, &page)
}

type pullError struct {
	status int
	body   string
}

func (e *pullError) Error() string { return strconv.Itoa(e.status) + ": " + e.body }

// logSize returns the size of n's log.
func logSize(t *testing.T, n *testNode) int64 {
	t.Helper()
	var size int64
	if err := n.store.View(t.Context(), func(tx dc.Tx) (err error) { size, err = tx.LastSeq(t.Context()); return err }); err != nil {
		t.Fatal(err)
	}
	return size
}

// declareSeen declares an operation of n's party, away from every other
// the tests declare (the i-th), and waits until other's log has grown
// past size, its copy and receipt of it: it returns other's log size
// then.
func declareSeen(t *testing.T, n, other *testNode, i int, size int64) (string, int64) {
	t.Helper()
	id := uuid.NewString()
	start := time.Now().Add(time.Duration(10+i) * time.Hour).Truncate(time.Second)
	d := mechanism.Declaration{Volumes: []dc.Volume4D{volume(float64(i), 40, 1, 0, 100, start, time.Minute)}}
	if _, err := n.mech.Declare(t.Context(), n.actor(dc.RoleOperator), id, d, nil); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if now := logSize(t, other); now > size {
			time.Sleep(100 * time.Millisecond) // the receipt that follows the copy
			return id, logSize(t, other)
		}
	}
	t.Fatalf("%s's log did not grow after %s declared", other.party, n.party)
	return "", 0
}

// isEchoFor reports whether a page's entry is an echo of its puller's
// work: withheld (a copy of its own entry) or a node receipt.
func isEchoFor(e federation.WireEntry) bool {
	if e.Data == nil {
		return true
	}
	var b struct {
		Type string `json:"type"`
	}
	return json.Unmarshal([]byte(*e.Data), &b) == nil && (b.Type == dc.EventOperationsReceived || b.Type == dc.EventOperationReceived)
}

type pulled struct {
	page *federation.LogPage
	err  error
	at   time.Time
}

// TestEchoesShareAPage: alpha declares, bravo only follows; a waiting
// pull of bravo's log by alpha, which would carry only the echoes of
// alpha's own declarations (bravo's copies and receipts of them), is
// held back until they fill the page: one page carries the echoes of
// several of bravo's commits, not one page each. So it is whether the
// pull waited for the first of them or found it.
func TestEchoesShareAPage(t *testing.T) {
	for _, found := range []bool{false, true} {
		t.Run(map[bool]string{false: "waited", true: "found"}[found], func(t *testing.T) {
			dir := t.TempDir()
			alpha, bravo := newNode(t, dir, "alpha"), newNode(t, dir, "bravo")
			peerAll(t, alpha, bravo)
			waitConverged(t, alpha, bravo)
			federation.SetEchoLinger(bravo.node, time.Minute) // the page fills long before
			// What one declaration of alpha adds to bravo's log.
			from := logSize(t, bravo)
			_, size := declareSeen(t, alpha, bravo, 0, from)
			per := int(size - from)
			t.Logf("a declaration of alpha adds %d entries to bravo's log", per)
			from = size
			const commits = 3
			i := 1
			if found {
				_, size = declareSeen(t, alpha, bravo, i, size)
				i++
			}
			got := make(chan pulled, 1)
			go func() {
				page, err := pullAs(t, alpha, bravo, from, commits*per, 20*time.Second)
				got <- pulled{page, err, time.Now()}
			}()
			time.Sleep(100 * time.Millisecond) // the pull is at bravo
			for ; i <= commits; i++ {
				_, size = declareSeen(t, alpha, bravo, i, size)
			}
			p := <-got
			if p.err != nil {
				t.Fatal(p.err)
			}
			if len(p.page.Entries) != commits*per {
				t.Fatalf("a page of %d entries of bravo's log, want the %d echoes of %d declarations of alpha (%d each)", len(p.page.Entries), commits*per, commits, per)
			}
			for _, e := range p.page.Entries {
				if !isEchoFor(e) {
					t.Fatalf("entry %d of bravo's log is no echo of alpha's work: the test proves nothing: %s", e.Index, *e.Data)
				}
			}
		})
	}
}

// TestDeclarationNotHeldBack: while bravo holds back a pull of alpha's
// that only echoes of alpha's work woke, bravo's own declaration is
// answered at once (after linger), with the echoes before it, not when
// the echoes have waited their time (a minute here) or the pull its
// wait.
func TestDeclarationNotHeldBack(t *testing.T) {
	dir := t.TempDir()
	alpha, bravo := newNode(t, dir, "alpha"), newNode(t, dir, "bravo")
	peerAll(t, alpha, bravo)
	waitConverged(t, alpha, bravo)
	federation.SetEchoLinger(bravo.node, time.Minute)
	from := logSize(t, bravo)
	const wait = 30 * time.Second
	got := make(chan pulled, 1)
	go func() {
		page, err := pullAs(t, alpha, bravo, from, 500, wait)
		got <- pulled{page, err, time.Now()}
	}()
	time.Sleep(100 * time.Millisecond) // the pull waits at bravo
	_, size := declareSeen(t, alpha, bravo, 0, from)
	time.Sleep(200 * time.Millisecond) // the echoes are held back
	select {
	case p := <-got:
		t.Fatalf("bravo answered the echoes of alpha's declaration alone: %d entries, err %v", len(p.page.Entries), p.err)
	default:
	}
	declared := time.Now()
	id, _ := declareSeen(t, bravo, alpha, 1, logSize(t, alpha))
	p := <-got
	if p.err != nil {
		t.Fatal(p.err)
	}
	if d := p.at.Sub(declared); d > wait/3 {
		t.Errorf("bravo's declaration reached the pull %s after it was made", d)
	}
	if len(p.page.Entries) == 0 || p.page.Entries[0].Index != from {
		t.Fatalf("a page from entry %v of bravo's log, want %d", p.page.Entries, from)
	}
	var echoes int64
	found := false
	for _, e := range p.page.Entries {
		if isEchoFor(e) {
			echoes++
		} else if strings.Contains(*e.Data, id) {
			found = true
		}
	}
	if echoes < size-from {
		t.Errorf("the page holds %d echoes of alpha's declaration, want %d", echoes, size-from)
	}
	if !found {
		t.Errorf("the page lacks bravo's declaration %s", id)
	}
}

// TestEchoesAnsweredInTime: echoes held back are answered once the
// echo linger has passed, well before the pull's wait.
func TestEchoesAnsweredInTime(t *testing.T) {
	dir := t.TempDir()
	alpha, bravo := newNode(t, dir, "alpha"), newNode(t, dir, "bravo")
	peerAll(t, alpha, bravo)
	waitConverged(t, alpha, bravo)
	federation.SetEchoLinger(bravo.node, 200*time.Millisecond)
	from := logSize(t, bravo)
	const wait = 30 * time.Second
	got := make(chan pulled, 1)
	start := time.Now()
	go func() {
		page, err := pullAs(t, alpha, bravo, from, 500, wait)
		got <- pulled{page, err, time.Now()}
	}()
	time.Sleep(100 * time.Millisecond)
	declareSeen(t, alpha, bravo, 0, from)
	p := <-got
	if p.err != nil {
		t.Fatal(p.err)
	}
	if d := p.at.Sub(start); d > wait/3 || len(p.page.Entries) == 0 {
		t.Errorf("a page of %d entries after %s", len(p.page.Entries), d)
	}
}
