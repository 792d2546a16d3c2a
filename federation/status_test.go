package federation_test

import (
	"testing"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/federation"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/sqlite"
)

// TestStatusFollowsAnotherProcess checks that the status shows at once
// a peer added, and a settings change made, through another handle on
// the node's store (as `deconflict federation peer add` beside a running
// server does), however often it was just asked.
func TestStatusFollowsAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	alpha, bravo := newNode(t, dir, "alpha"), newNode(t, dir, "bravo")
	peers := func() int {
		t.Helper()
		st, err := alpha.node.Status(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return len(st.Peers)
	}
	for range 3 {
		if n := peers(); n != 0 {
			t.Fatalf("%d peers before any was added", n)
		}
	}
	other, err := sqlite.Open(t.Context(), alpha.path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	cli := mechanism.New(other, mechanism.Options{})
	if _, err := federation.AddPeer(t.Context(), cli, bravo.descriptor(t)); err != nil {
		t.Fatal(err)
	}
	if n := peers(); n != 1 {
		t.Fatalf("%d peers after another process added one, want 1", n)
	}
	st, err := cli.Settings().Get(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	st.HorizontalM++
	if _, err := cli.Settings().Put(t.Context(), dc.Actor{Role: dc.RoleAdmin}, st); err != nil {
		t.Fatal(err)
	}
	if _, alerts := statusOf(t, alpha, "bravo"); len(alerts) == 0 {
		t.Fatal("no alert after another process changed the settings the parties agree on")
	}
}
