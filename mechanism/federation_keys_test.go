package mechanism_test

import (
	"context"
	"testing"
)

// TestIsNodeKey: a peer request names the node it is for by key. The
// node's key is its own, and stays its own once retired; a key made
// after the node last read its keys (by `deconflict key rotate` beside
// it) is its own at once; another node's is not.
func TestIsNodeKey(t *testing.T) {
	ctx := context.Background()
	m, _ := openOn(t, freshStore(t), "alpha")
	other, _ := openOn(t, freshStore(t), "bravo")
	old, err := m.Federation().NodeKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := other.Federation().NodeKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	is := func(verifier string) bool {
		t.Helper()
		ok, err := m.Federation().IsNodeKey(ctx, verifier)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !is(old.Verifier) {
		t.Errorf("the node's key is not its own")
	}
	rotated, err := m.Record().RotateKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !is(rotated.Verifier) {
		t.Errorf("the key made by a rotation is not the node's")
	}
	if !is(old.Verifier) {
		t.Errorf("the retired key is no longer the node's")
	}
	for _, k := range []string{stranger.Verifier, "", old.Verifier + "x"} {
		if is(k) {
			t.Errorf("%q is taken for the node's key", k)
		}
	}
}
