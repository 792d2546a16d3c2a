package federation

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/geo"
	"github.com/deconflict/deconflict/mechanism"
)

// TestCollisionAlertBounded: a refused operation that would conflict
// with 150 of this node's operations, in an entry of a megabyte, gives
// an alert the heads can read and the log can hold: the message counts
// all 150 and names the first 20 by ID ("and 130 more"), the evidence
// lists the first 100 and names the entry by its leaf hash instead of
// copying it; and a change of an operation the message does not name
// still changes the message, so that it is alerted again.
func TestCollisionAlertBounded(t *testing.T) {
	op := &dc.Operation{ID: "x", Party: "alpha", Version: 1, State: dc.StatePlanned}
	var hits []geo.Hit
	for i := range 150 {
		hits = append(hits, geo.Hit{ID: fmt.Sprintf("op-%03d", 149-i), Group: "charlie"}) // not in ID order
	}
	big := []byte(`{"operation":"` + strings.Repeat("v", 1<<20) + `"}`)
	msg, evidence, err := collisionAlert(op, "bravo", "", hits, 7, big)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"150 of this node's operations: op-000 (charlie), op-001 (charlie)", "op-019 (charlie) and 130 more", "party bravo of this node"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the message lacks %q: %s", want, msg)
		}
	}
	if strings.Contains(msg, "op-020") || len(msg) > 2000 {
		t.Errorf("the message names more than the first 20 (%d bytes): %s", len(msg), msg)
	}
	var ev collisionEvidence
	if err := json.Unmarshal([]byte(evidence), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Conflicts != 150 || len(ev.ConflictsWith) != evidenceConflicts || ev.ConflictsWith[0].Operation != "op-000" ||
		ev.EntryData != "" || ev.EntrySize != len(big) || ev.EntryLeafHash == "" || len(evidence) > 32<<10 {
		t.Errorf("evidence of %d bytes: %d conflicts, %d listed (first %+v), entry of %d bytes copied %d, leaf hash %q",
			len(evidence), ev.Conflicts, len(ev.ConflictsWith), ev.ConflictsWith[0], ev.EntrySize, len(ev.EntryData), ev.EntryLeafHash)
	}

	changed := append([]geo.Hit{}, hits...)
	changed[0].ID = "op-999" // op-149, beyond the first 20, moves away; another comes
	msg2, _, err := collisionAlert(op, "bravo", "", changed, 7, big)
	if err != nil {
		t.Fatal(err)
	}
	if msg2 == msg {
		t.Errorf("a change beyond the first 20 leaves the message as it was: it would not be alerted again")
	}
	same, _, _ := collisionAlert(op, "bravo", "", hits[:10], 7, []byte(`{}`))
	if !strings.Contains(same, "10 of this node's operations: ") || strings.Contains(same, "more") || strings.Contains(same, "fingerprint") {
		t.Errorf("a short list is named whole: %s", same)
	}
	if got := mechanism.ListSome([]string{"a", "b"}); got != "a, b" {
		t.Errorf("ListSome = %q", got)
	}
}
