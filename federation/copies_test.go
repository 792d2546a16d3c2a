package federation_test

import (
	"bytes"
	"math/rand/v2"
	"testing"

	dc "github.com/deconflict/deconflict"
	"github.com/google/uuid"
)

// TestCopiesGoAsHashes: a node's copies of its peers' entries (its record
// of a peer's declaration, the receipts a peer signed) go to its peers as
// leaf hashes only, since every node pulls an entry from its author;
// what each node authored still arrives whole and is applied.
func TestCopiesGoAsHashes(t *testing.T) {
	dir := t.TempDir()
	alpha, bravo := newNode(t, dir, "alpha"), newNode(t, dir, "bravo")
	peerAll(t, alpha, bravo)
	rnd := rand.New(rand.NewPCG(11, 12))
	for i := range 5 {
		for _, n := range []*testNode{alpha, bravo} {
			if _, err := n.mech.Declare(t.Context(), n.actor(dc.RoleOperator), uuid.NewString(), randomDeclaration(rnd, n.party, i), nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitConverged(t, alpha, bravo)
	for _, pair := range [][2]*testNode{{alpha, bravo}, {bravo, alpha}} {
		n, peer := pair[0], pair[1]
		var entries []dc.PeerEntry
		err := n.store.View(t.Context(), func(tx dc.Tx) (err error) {
			entries, err = tx.(dc.FederationTx).PeerEntries(t.Context(), peer.descriptor(t).Key, 0, 10000)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		whole, withheld, receipts, received := 0, 0, 0, 0
		for _, e := range entries {
			switch {
			case e.Data == nil:
				withheld++
			case bytes.Contains(e.Data, []byte(`"replicated"`)):
				t.Errorf("%s holds %s's copy of another node's entry %d: %s", n.party, peer.party, e.Index, e.Data)
			default:
				whole++
				if bytes.Contains(e.Data, []byte(`"type":"operations.received"`)) {
					receipts++
					received += bytes.Count(e.Data, []byte(`"leaf_hash":`))
				}
			}
		}
		// Each side declared 5 and received the other's 5: 5 copies of
		// the other's declarations and one of each receipt it kept, a
		// receipt naming the versions one batch of the peer applied.
		if withheld < 5+receipts || receipts == 0 || received != 5 {
			t.Errorf("%s holds of %s's log %d entries whole (%d receipts naming %d versions of its declarations), %d as hashes; want receipts of its 5 whole and the copies as hashes",
				n.party, peer.party, whole, receipts, received, withheld)
		}
	}
}
