package federation_test

import (
	"io"
	"net/http"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/record"
	"github.com/google/uuid"
	"golang.org/x/mod/sumdb/note"
)

// TestCheckpointCosigned: once peered, the checkpoint alpha's node serves
// on GET /v1/log/checkpoint carries bravo's cosignature of that very
// checkpoint, which verifies with bravo's key next to alpha's signature.
func TestCheckpointCosigned(t *testing.T) {
	dir := t.TempDir()
	alpha, bravo := newNode(t, dir, "alpha"), newNode(t, dir, "bravo")
	peerAll(t, alpha, bravo)
	start := time.Now().Add(3 * time.Hour).Truncate(time.Second)
	d := mechanism.Declaration{Volumes: []dc.Volume4D{volume(10, 10, 2, 0, 1000, start, time.Hour)}}
	if _, err := alpha.mech.Declare(t.Context(), alpha.actor(dc.RoleOperator), uuid.NewString(), d, nil); err != nil {
		t.Fatal(err)
	}
	waitConverged(t, alpha, bravo)

	av, err := note.NewVerifier(alpha.descriptor(t).Key)
	if err != nil {
		t.Fatal(err)
	}
	bv, err := record.CosignatureVerifier(bravo.descriptor(t).Key)
	if err != nil {
		t.Fatal(err)
	}
	tok := alpha.token(t, dc.RoleObserver, "alpha")
	var last string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", alpha.hs.URL+"/v1/log/checkpoint", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		last = string(b)
		n, err := note.Open(b, note.VerifierList(av, bv))
		if err != nil {
			t.Fatalf("the served checkpoint does not open: %v\n%s", err, b)
		}
		names := map[string]bool{}
		for _, s := range n.Sigs {
			names[s.Name] = true
		}
		if len(n.Sigs) == 2 && names[av.Name()] && names[bv.Name()] && len(n.UnverifiedSigs) == 0 {
			return
		}
	}
	t.Fatalf("alpha's checkpoint never carried bravo's cosignature:\n%s", last)
}
