package storetest

import (
	"context"
	"testing"

	"github.com/deconflict/deconflict"
)

// testPeerHashes checks that PeerHashes reads the hashes of one peer's
// log at any indexes, in the order asked, many at once, never another
// peer's, and ENotFound if one is missing. Stores without federation
// skip it.
func testPeerHashes(t *testing.T, f Factory) {
	s := f.Open(t)
	const a, b = "alpha+00000001+key", "bravo+00000002+key"
	n := 150 // more than one read of a store's batch
	update(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		ftx, ok := tx.(deconflict.FederationTx)
		if !ok {
			t.Skip("the store does not keep peers' logs")
		}
		if err := ftx.PutPeerHashes(ctx, a, 0, logHashes(0, n)); err != nil {
			return err
		}
		return ftx.PutPeerHashes(ctx, b, 0, logHashes(1000, n))
	})
	view(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		ftx := tx.(deconflict.FederationTx)
		indexes := append([]int64{7, 3, 3}, span(0, n)...)
		for _, c := range []struct {
			peer string
			base int64
		}{{a, 0}, {b, 1000}} {
			got, err := ftx.PeerHashes(ctx, c.peer, indexes)
			if err != nil {
				t.Fatalf("PeerHashes(%s): %v", c.peer, err)
			}
			if len(got) != len(indexes) {
				t.Fatalf("PeerHashes(%s): %d hashes for %d indexes", c.peer, len(got), len(indexes))
			}
			for i, idx := range indexes {
				if got[i] != logHash(c.base+idx) {
					t.Errorf("PeerHashes(%s)[%d]: not the hash stored at %d", c.peer, i, idx)
				}
			}
		}
		if _, err := ftx.PeerHashes(ctx, a, []int64{2, int64(n) + 5, 1}); deconflict.ErrorCode(err) != deconflict.ENotFound {
			t.Errorf("PeerHashes with a missing index: %v, want ENotFound", err)
		}
		if _, err := ftx.PeerHashes(ctx, "charlie+00000003+key", []int64{0}); deconflict.ErrorCode(err) != deconflict.ENotFound {
			t.Errorf("PeerHashes of an unknown peer: %v, want ENotFound", err)
		}
		return nil
	})
}
