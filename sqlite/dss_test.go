package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/deconflict/deconflict"
)

// TestMigrateDSSRecords opens a file whose DSS records were written under
// the tenth migration (the table keyed by kind and ID): Open keeps every
// record, deleted ones included, in the order of their change numbers,
// and records go on being replaced by kind and ID, each change number
// used once.
func TestMigrateDSSRecords(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "v10.db")
	// Change numbers out of the order of the keys; seq 3 a deletion.
	olderFile(t, path, 10, `INSERT INTO dss_records (kind, id, seq, doc) VALUES
		('oir', 'c', 1, '{"n":1}'), ('oir', 'a', 4, '{"n":4}'), ('subscription', 'b', 2, '{"n":2}'), ('oir', 'b', 3, NULL)`)
	db := MustOpen(t, path)
	type rec struct {
		kind, id string
		seq      int64
		doc      string
	}
	since := func(after int64) []rec {
		t.Helper()
		var out []rec
		if err := db.View(ctx, func(tx deconflict.Tx) error {
			return tx.(deconflict.DSSTx).DSSRecordsSince(ctx, after, func(kind, id string, seq int64, doc []byte) error {
				out = append(out, rec{kind, id, seq, string(doc)})
				return nil
			})
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	want := []rec{{"oir", "c", 1, `{"n":1}`}, {"subscription", "b", 2, `{"n":2}`}, {"oir", "b", 3, ""}, {"oir", "a", 4, `{"n":4}`}}
	if got := since(0); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("records after the upgrade: %v, want %v", got, want)
	}
	put := func(kind, id string, seq int64, doc []byte) error {
		return db.Update(ctx, func(tx deconflict.Tx) error {
			return tx.(deconflict.DSSTx).PutDSSRecord(ctx, kind, id, seq, doc)
		})
	}
	// Replacing oir c moves it to the end; a new record follows.
	if err := put("oir", "c", 5, []byte(`{"n":5}`)); err != nil {
		t.Fatal(err)
	}
	if err := put("oir", "d", 6, []byte(`{"n":6}`)); err != nil {
		t.Fatal(err)
	}
	want = []rec{{"oir", "a", 4, `{"n":4}`}, {"oir", "c", 5, `{"n":5}`}, {"oir", "d", 6, `{"n":6}`}}
	if got := since(3); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("records after 3: %v, want %v", got, want)
	}
	if err := put("oir", "e", 6, []byte(`{}`)); err == nil {
		t.Error("a second record took change number 6")
	}
	var last int64
	if err := db.View(ctx, func(tx deconflict.Tx) error {
		var err error
		last, err = tx.(deconflict.DSSTx).DSSLastSeq(ctx)
		return err
	}); err != nil || last != 6 {
		t.Errorf("DSSLastSeq = %d, %v; want 6", last, err)
	}
	if err := db.Update(ctx, func(tx deconflict.Tx) error {
		n, err := tx.(deconflict.DSSPurgeTx).PurgeDSSTombstones(context.Background(), 6)
		if n != 1 {
			t.Errorf("purged %d tombstones, want 1", n)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got := len(since(0)); got != 4 {
		t.Errorf("%d records after the purge, want 4", got)
	}
}
