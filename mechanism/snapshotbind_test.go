package mechanism_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"os"
	"strings"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/google/uuid"
)

// TestIndexSnapshotForged: someone who can write the data folder renames
// a party inside the snapshot and fixes its CRC-32C, so that the index
// would file bravo's operation under alpha and alpha's declarations would
// miss it. The start must leave the file aside, say why, load from the
// store, and find the conflict.
func TestIndexSnapshotForged(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	snap := dir + "/d.db.index"
	w := &snapshotWorld{t: t, path: dir + "/d.db", clk: &clock{now: time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)}}
	w.open(snap)
	for _, p := range []string{"alpha", "bravo"} {
		if _, err := w.m.Access().AddParty(ctx, p, ""); err != nil {
			t.Fatal(err)
		}
	}
	start := w.clk.Now().Add(2 * time.Hour)
	over := circleDecl(33.5, 35.5, start, start.Add(time.Hour))
	if _, err := w.m.Declare(ctx, dc.Actor{Party: "bravo", Role: dc.RoleOperator}, uuid.NewString(), over, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.m.Index().SaveIndex(ctx); err != nil {
		t.Fatal(err)
	}
	w.close()

	// The untouched snapshot is used.
	w.open(snap)
	if !w.usedSnapshot() {
		t.Fatalf("the snapshot as saved was not used:\n%s", w.logs.String())
	}
	w.close()

	data, err := os.ReadFile(snap)
	if err != nil {
		t.Fatal(err)
	}
	body := data[:len(data)-4]
	if bytes.Count(body, []byte("bravo")) == 0 {
		t.Fatal("the snapshot does not name bravo")
	}
	body = bytes.ReplaceAll(body, []byte("bravo"), []byte("alpha"))
	forged := binary.LittleEndian.AppendUint32(body, crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)))
	if err := os.WriteFile(snap, forged, 0o600); err != nil {
		t.Fatal(err)
	}

	w.open(snap)
	defer w.close()
	if w.usedSnapshot() || !strings.Contains(w.logs.String(), "SHA-256") || strings.Contains(w.logs.String(), "damaged") {
		t.Fatalf("want the forged snapshot left aside for its digest, its checksum being right:\n%s", w.logs.String())
	}
	res, err := w.m.Declare(ctx, dc.Actor{Party: "alpha", Role: dc.RoleOperator}, uuid.NewString(), over, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Conflicts) != 1 {
		t.Fatalf("alpha's declaration over bravo's operation found %d conflicts, want 1", len(res.Conflicts))
	}
	// The next save records the new file, and the start after uses it.
	if err := w.m.Index().SaveIndex(ctx); err != nil {
		t.Fatal(err)
	}
	w.close()
	w.open(snap)
	if !w.usedSnapshot() {
		t.Fatalf("the snapshot saved after a rebuild was not used:\n%s", w.logs.String())
	}
}

// TestIndexSnapshotOfAnotherStore: a snapshot is bound to the store that
// wrote it. A copy of a store, with the same log, does not start from the
// snapshot the original wrote after the copy was made: the root hash
// check passes, the recorded digest does not.
func TestIndexSnapshotOfAnotherStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clk := &clock{now: time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)}
	a := &snapshotWorld{t: t, path: dir + "/a.db", clk: clk}
	a.open(dir + "/a.index")
	for _, p := range []string{"alpha", "bravo"} {
		if _, err := a.m.Access().AddParty(ctx, p, ""); err != nil {
			t.Fatal(err)
		}
	}
	a.close()
	// b is a copy of a as it stands: the same log, the same history.
	copyStore(t, a.path, dir+"/b.db")
	a.open(dir + "/a.index")
	if err := a.m.Index().SaveIndex(ctx); err != nil {
		t.Fatal(err)
	}
	a.close()
	b := &snapshotWorld{t: t, path: dir + "/b.db", clk: clk}
	mustRename(t, dir+"/a.index", dir+"/b.index")
	b.open(dir + "/b.index")
	defer b.close()
	if b.usedSnapshot() || !strings.Contains(b.logs.String(), "recorded no digest") {
		t.Fatalf("a snapshot of another store was used:\n%s", b.logs.String())
	}
}
