package federation_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
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

// TestEvidenceCosigned: the evidence bundle alpha's node serves for its
// operation carries bravo's node's cosignature of alpha's log, which
// verifies offline with bravo's key and is printed as "checkpoint N
// cosigned by bravo's node at T"; one changed byte of it fails.
func TestEvidenceCosigned(t *testing.T) {
	dir := t.TempDir()
	alpha, bravo := newNode(t, dir, "alpha"), newNode(t, dir, "bravo")
	peerAll(t, alpha, bravo)
	start := time.Now().Add(3 * time.Hour).Truncate(time.Second)
	id := uuid.NewString()
	d := mechanism.Declaration{Volumes: []dc.Volume4D{volume(10, 10, 2, 0, 1000, start, time.Hour)}}
	if _, err := alpha.mech.Declare(t.Context(), alpha.actor(dc.RoleOperator), id, d, nil); err != nil {
		t.Fatal(err)
	}
	waitConverged(t, alpha, bravo)

	key, bravoKey := alpha.descriptor(t).Key, bravo.descriptor(t).Key
	cl := alpha.client(alpha.token(t, dc.RoleLiaison, "alpha"))
	var b record.Bundle
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		b = record.Bundle{}
		if err := cl.Do(t.Context(), "GET", "/v1/evidence/operations/"+id, nil, &b); err != nil {
			t.Fatal(err)
		}
		if b.Witnessed != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alpha's evidence never carried bravo's cosignature")
		}
	}
	tl, err := record.Verify(&b, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := tl.CheckNodeKeys([]string{bravoKey}); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := tl.Write(&out); err != nil {
		t.Fatal(err)
	}
	if len(tl.Cosignatures) != 1 || !strings.Contains(out.String(), fmt.Sprintf("checkpoint %d cosigned by bravo's node at ", tl.Cosignatures[0].Size)) {
		t.Errorf("the timeline does not show bravo's cosignature:\n%s", out.String())
	}
	if err := tl.CheckNodeKeys([]string{key}); err == nil {
		t.Errorf("the cosignature passed as made with alpha's own key")
	}
	// One changed byte of bravo's cosignature fails the bundle.
	cp := b.Witnessed.Checkpoints[0].Checkpoint
	i := strings.LastIndex(cp, " ") + 20
	b.Witnessed.Checkpoints[0].Checkpoint = cp[:i] + string(cp[i]^1) + cp[i+1:]
	if _, err := record.Verify(&b, key); err == nil {
		t.Errorf("a bundle whose cosignature was changed verified")
	}
}
