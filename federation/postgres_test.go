package federation_test

import (
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/internal/pgtest"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/record"
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
	} else {
		for k, c := range counts {
			if c != 1 {
				t.Errorf("alpha's node on PostgreSQL: receipt %s %d times", k, c)
			}
		}
	}
	// Alpha's node on PostgreSQL receipts bravo's versions a batch at a
	// time, and keeps a copy of each of bravo's batch receipts.
	if own, kept := nodeReceipts(t, alpha); len(own) == 0 || len(kept) == 0 {
		t.Errorf("alpha's node on PostgreSQL gave %d receipts of several versions and kept %d of bravo's", len(own), len(kept))
	}
	// The evidence of alpha's operations proves bravo's receipts from
	// bravo's log as alpha's node on PostgreSQL keeps it.
	ops, _, err := alpha.mech.Operations(t.Context(), alpha.actor(dc.RoleLiaison), mechanism.OperationQuery{Party: "alpha", Limit: 1})
	if err != nil || len(ops) == 0 {
		t.Fatalf("alpha's operations: %v, %d", err, len(ops))
	}
	b, err := alpha.mech.Record().Evidence(t.Context(), alpha.actor(dc.RoleLiaison), ops[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	tl, err := record.Verify(b, alpha.descriptor(t).Key)
	if err != nil {
		t.Fatal(err)
	}
	if err := tl.CheckNodeKeys([]string{bravo.descriptor(t).Key}); err != nil || len(b.NodeReceipts) != 1 {
		t.Errorf("the receipts of alpha's operation %s: %v; %d receiving nodes' checkpoints", ops[0].ID, err, len(b.NodeReceipts))
	}
}
