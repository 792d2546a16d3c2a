package mechanism_test

import (
	"context"
	"encoding/base64"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/mechanism"
	"github.com/google/uuid"
)

// TestCheckReceivedEntries: a peer's receipt names a version of an
// operation of this node's as the log holds it — entry, leaf hash,
// operation, version and party — or it is refused, each way of naming
// another entry with its own reason; the same whether the writer still
// remembers logging the version or the log is read.
func TestCheckReceivedEntries(t *testing.T) {
	ctx := context.Background()
	m, clk := mustOpen(t)
	m.Federation().SetPeers([]*dc.Peer{{Key: "k1", Parties: []string{"charlie"}}})
	start := clk.Now().Add(3 * time.Hour)
	alpha := dc.Actor{Party: "alpha", Role: dc.RoleOperator}
	res, err := m.Declare(ctx, alpha, uuid.NewString(), circleDecl(33, 35, start, start.Add(time.Hour)), nil)
	if err != nil {
		t.Fatal(err)
	}
	d := circleDecl(34, 36, start, start.Add(time.Hour))
	v1 := 1
	if _, err := m.Declare(ctx, alpha, res.Operation.ID, d, &v1); err != nil { // version 2
		t.Fatal(err)
	}
	op := res.Operation
	index := op.Rev - 1
	entries, err := m.Record().LogEntries(ctx, dc.Actor{Role: dc.RoleAdmin}, index, index+1)
	if err != nil {
		t.Fatal(err)
	}
	leaf := base64.StdEncoding.EncodeToString(entries[0].LeafHash[:])
	good := mechanism.ReceivedEntry{Index: index, LeafHash: leaf, Operation: op.ID, Party: "alpha", Version: 1}
	bad := map[string]mechanism.ReceivedEntry{}
	for name, change := range map[string]func(r *mechanism.ReceivedEntry){
		"another leaf hash":   func(r *mechanism.ReceivedEntry) { r.LeafHash = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" },
		"another version":     func(r *mechanism.ReceivedEntry) { r.Version = 2 },
		"another party":       func(r *mechanism.ReceivedEntry) { r.Party = "bravo" },
		"another operation":   func(r *mechanism.ReceivedEntry) { r.Operation = uuid.NewString() },
		"an entry not logged": func(r *mechanism.ReceivedEntry) { r.Index = 1 << 40 },
		"a negative index":    func(r *mechanism.ReceivedEntry) { r.Index = -1 },
		"the entry before it": func(r *mechanism.ReceivedEntry) { r.Index-- },
	} {
		r := good
		change(&r)
		bad[name] = r
	}
	check := func(how string) map[string]string {
		out := map[string]string{}
		if err := m.Federation().CheckReceivedEntries(ctx, []mechanism.ReceivedEntry{good})[0]; err != nil {
			t.Errorf("%s: the receipt of the version as logged: %v", how, err)
		}
		for name, r := range bad {
			err := m.Federation().CheckReceivedEntries(ctx, []mechanism.ReceivedEntry{good, r, good})[1]
			if dc.ErrorCode(err) != dc.EInvalid {
				t.Errorf("%s: a receipt of %s: %v", how, name, err)
			}
			out[name] = dc.ErrorMessage(err)
		}
		return out
	}
	if !m.RemembersLogged(index) {
		t.Fatalf("the writer of a node with peers does not remember logging version 1 at entry %d", index)
	}
	remembered := check("remembered")
	m.ForgetLoggedVersions()
	if m.RemembersLogged(index) {
		t.Fatalf("the writer still remembers entry %d", index)
	}
	read := check("read from the log")
	for name, msg := range remembered {
		if read[name] != msg {
			t.Errorf("a receipt of %s: %q remembered, %q read from the log", name, msg, read[name])
		}
	}
}
