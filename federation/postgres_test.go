package federation_test

import (
	"testing"
	"time"

	"github.com/deconflict/deconflict/internal/pgtest"
)

// TestNodeOnPostgres: a node on PostgreSQL peers with a node on SQLite;
// concurrent declarations on both end with the same conflicts under the
// same IDs. Needs DECONFLICT_TEST_POSTGRES (skipped without it).
func TestNodeOnPostgres(t *testing.T) {
	pg := pgtest.Database(t)
	dir := t.TempDir()
	alpha, bravo := newNodeOn(t, dir, "alpha", pg), newNode(t, dir, "bravo")
	peerAll(t, alpha, bravo)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	declareMany(t, seed, 15, alpha, bravo)
	waitConverged(t, alpha, bravo)
	if total := checkSameConflicts(t, alpha, bravo); total == 0 {
		t.Fatalf("no conflict: the scenario proves nothing")
	}
	if counts := receiptCounts(t, alpha); len(counts) == 0 {
		t.Errorf("alpha's node on PostgreSQL kept no receipt of bravo's")
	}
}
