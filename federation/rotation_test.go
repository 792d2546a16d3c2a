package federation_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/federation"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/record"
)

// TestReceiptsOutliveTheirNode: bravo's node is replaced by one with
// another key (a key rotation). The receipts the old node gave alpha's
// operation are proven from the old node's log, which alpha keeps, so
// alpha's evidence still shows them, signed by the old key; the party
// is hosted by the new node from then on.
func TestReceiptsOutliveTheirNode(t *testing.T) {
	alpha, bravo := newNode(t, t.TempDir(), "alpha"), newNode(t, t.TempDir(), "bravo")
	peerAll(t, alpha, bravo)
	op := uuid.NewString()
	d := mechanism.Declaration{Volumes: []dc.Volume4D{volume(10, 10, 2, 0, 1000, time.Now().Add(3*time.Hour), time.Hour)}}
	if _, err := alpha.mech.Declare(t.Context(), alpha.actor(dc.RoleOperator), op, d, nil); err != nil {
		t.Fatal(err)
	}
	keys, err := alpha.mech.Record().Keys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	timeline := func() (string, error) {
		b, err := alpha.mech.Record().Evidence(t.Context(), alpha.actor(dc.RoleLiaison), op)
		if err != nil {
			t.Fatal(err)
		}
		tl, err := record.Verify(b, keys[0].Verifier)
		if err != nil {
			return "", err
		}
		var buf bytes.Buffer
		err = tl.Write(&buf)
		return buf.String(), err
	}
	const received = "received by bravo's node at "
	deadline := time.Now().Add(60 * time.Second)
	for {
		s, err := timeline()
		if err == nil && strings.Contains(s, received) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no receipt of bravo's node in alpha's evidence: %v\n%s", err, s)
		}
		time.Sleep(50 * time.Millisecond)
	}

	if _, err := federation.RemovePeer(t.Context(), alpha.store, "bravo"); err != nil {
		t.Fatal(err)
	}
	bravo2 := newNode(t, t.TempDir(), "bravo")
	peerAll(t, alpha, bravo2)
	s, err := timeline()
	if err != nil {
		t.Fatalf("alpha's evidence after bravo's node was replaced: %v", err)
	}
	if !strings.Contains(s, received) {
		t.Errorf("alpha's evidence lost the old node's receipt:\n%s", s)
	}
	// The new node hosts bravo: its operations reach alpha and meet
	// alpha's, with the same conflicts on both nodes.
	if _, err := bravo2.mech.Declare(t.Context(), bravo2.actor(dc.RoleOperator), uuid.NewString(), d, nil); err != nil {
		t.Fatal(err)
	}
	waitConverged(t, alpha, bravo2)
	checkSameConflicts(t, alpha, bravo2)
	if key, ok := alpha.mech.Federation().RemoteParty("bravo"); !ok || key != bravo2.descriptor(t).Key {
		t.Errorf("bravo is hosted by %q (%v) on alpha's node, want the new node's key", key, ok)
	}
}
