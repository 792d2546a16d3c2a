package record

import (
	"strings"
	"testing"
)

func testReceipts() *NodeReceipts {
	return &NodeReceipts{
		Party: "alpha", Receiver: []string{"bravo"}, Key: "bravo+1+key", ReceivedAt: "2026-12-07T10:00:00.5Z",
		Entries: []ReceivedVersion{
			{Operation: "op-1", Version: 1, Entry: 4, LeafHash: "h4"},
			{Operation: "op-2", Version: 3, Entry: 7, LeafHash: "h7"},
			{Operation: "op-1", Version: 2, Entry: 9, LeafHash: "h9"},
		},
	}
}

// TestNodeReceiptsReceipt: each version received reads as the receipt a
// node would have given for it alone.
func TestNodeReceiptsReceipt(t *testing.T) {
	rs := testReceipts()
	r := rs.Receipt(2)
	want := NodeReceipt{Operation: "op-1", Party: "alpha", Version: 2, Receiver: []string{"bravo"}, Key: "bravo+1+key",
		ReceivedAt: "2026-12-07T10:00:00.5Z", Entry: 9, LeafHash: "h9"}
	if NodeReceiptText(r) != NodeReceiptText(&want) {
		t.Fatalf("Receipt(2) = %+v, want %+v", r, want)
	}
	r.Receiver[0] = "changed"
	if rs.Receiver[0] != "bravo" {
		t.Fatal("a receipt shares its receivers with the batch")
	}
	if got := rs.Names("op-1"); len(got) != 2 || got[0] != 0 || got[1] != 2 {
		t.Fatalf("Names(op-1) = %v, want [0 2]", got)
	}
	if _, err := CheckNodeReceiptsFields(rs); err != nil {
		t.Fatal(err)
	}
}

// TestNodeReceiptsFieldsRefused: a batch with no version, versions out
// of order or repeated, or a version a single receipt could not hold, is
// refused, naming what is wrong.
func TestNodeReceiptsFieldsRefused(t *testing.T) {
	for name, c := range map[string]struct {
		edit func(*NodeReceipts)
		want string
	}{
		"no version":      {func(rs *NodeReceipts) { rs.Entries = nil }, "0 versions"},
		"out of order":    {func(rs *NodeReceipts) { rs.Entries[1].Entry = 3 }, "entries[1]: entry 3 does not follow entry 4"},
		"repeated entry":  {func(rs *NodeReceipts) { rs.Entries[2].Entry = 7 }, "entries[2]: entry 7 does not follow entry 7"},
		"version 0":       {func(rs *NodeReceipts) { rs.Entries[0].Version = 0 }, "entries[0]: node receipt: version 0"},
		"no receiver":     {func(rs *NodeReceipts) { rs.Receiver = nil }, "does not name the receiving node's parties"},
		"bad time":        {func(rs *NodeReceipts) { rs.ReceivedAt = "yesterday" }, "received time"},
		"too many":        {func(rs *NodeReceipts) { rs.Entries = make([]ReceivedVersion, MaxReceivedVersions+1) }, "not between 1 and"},
		"negative entry":  {func(rs *NodeReceipts) { rs.Entries[0].Entry = -1 }, "entry -1"},
		"no operation ID": {func(rs *NodeReceipts) { rs.Entries[1].Operation = "" }, "entries[1]: node receipt: the operation"},
	} {
		rs := testReceipts()
		c.edit(rs)
		_, err := CheckNodeReceiptsFields(rs)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, c.want)
		}
	}
}
