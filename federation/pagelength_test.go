package federation_test

import (
	"io"
	"math/rand/v2"
	"net/http"
	neturl "net/url"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/federation"
	"github.com/google/uuid"
)

// TestPageDeclaresItsLength: a page of a node's log, however long, comes
// with the Content-Length of its body, so that the puller reads it into
// one buffer of that length (readBody) instead of growing one as it
// reads.
func TestPageDeclaresItsLength(t *testing.T) {
	dir := t.TempDir()
	alpha, bravo := newNode(t, dir, "alpha"), newNode(t, dir, "bravo")
	peerAll(t, alpha, bravo)
	rnd := rand.New(rand.NewPCG(3, 4))
	for i := range 5 {
		if _, err := alpha.mech.Declare(t.Context(), alpha.actor(dc.RoleOperator), uuid.NewString(), randomDeclaration(rnd, alpha.party, i), nil); err != nil {
			t.Fatal(err)
		}
	}
	bk, err := bravo.mech.Federation().NodeKey(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	signer, err := federation.NewRequestSigner(bk.Signer, bk.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(t.Context(), "GET", alpha.hs.URL+federation.LogPath+"?from=0&to="+neturl.QueryEscape(alpha.descriptor(t).Key), nil)
	signer.Sign(req, nil, time.Now())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("a page of alpha's log: %d %v %s", resp.StatusCode, err, body)
	}
	if len(body) <= 4096 {
		t.Fatalf("a page of %d bytes, one net/http sizes by itself: the test proves nothing", len(body))
	}
	if resp.ContentLength != int64(len(body)) {
		t.Errorf("a page of %d bytes declares Content-Length %d", len(body), resp.ContentLength)
	}
}
