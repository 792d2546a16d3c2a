package federation_test

import (
	"strings"
	"testing"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/record"
	"github.com/google/uuid"
)

// TestBatchReceiptProvesNotice: bravo's node receipts two of alpha's
// declarations in one entry (it was down while alpha made them, and
// pulls them in one page). Alpha's evidence bundle of each operation
// proves bravo's receipt of it by bravo's own entry in bravo's signed
// checkpoint and verifies offline with bravo's descriptor, saying that
// bravo's node received it; bravo's own bundle of the operation verifies
// too, by its own checkpoint.
func TestBatchReceiptProvesNotice(t *testing.T) {
	dir := t.TempDir()
	alpha, bravo := newNode(t, dir, "alpha"), newNode(t, dir, "bravo")
	peerAll(t, alpha, bravo)
	waitConverged(t, alpha, bravo)
	bravo.shutdown(t)
	ops := []string{uuid.NewString(), uuid.NewString()}
	for _, op := range ops {
		declareAt(t, alpha, op, 1000, nil)
	}
	bravo.start(t)
	waitConverged(t, alpha, bravo)
	own, _ := nodeReceipts(t, bravo)
	if len(own) != 1 || len(own[0].Entries) != 2 {
		t.Fatalf("bravo's receipts %s, want one of both declarations", mustJSON(t, own))
	}
	for _, op := range ops {
		b := servedEvidence(t, alpha, op, 1)
		s, err := verifyServed(t, alpha, b, bravo.descriptor(t))
		if err != nil {
			t.Fatalf("alpha's evidence of %s: %v", op, err)
		}
		if !strings.Contains(s, "received by bravo's node at ") {
			t.Errorf("alpha's evidence of %s does not say bravo's node received it:\n%s", op, s)
		}
		bb, err := bravo.mech.Record().Evidence(t.Context(), dc.Actor{Party: "bravo", Role: dc.RoleLiaison}, op)
		if err != nil {
			t.Fatal(err)
		}
		tl, err := record.Verify(bb, bravo.descriptor(t).Key)
		if err != nil {
			t.Fatalf("bravo's evidence of %s: %v", op, err)
		}
		var sb strings.Builder
		if err := tl.Write(&sb); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(sb.String(), "received by bravo's node at ") {
			t.Errorf("bravo's evidence of %s does not say bravo's node received it:\n%s", op, sb.String())
		}
	}
}
