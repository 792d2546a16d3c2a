package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/deconflict/deconflict"
)

// TestKeptPartiesAndSettings: a write transaction sees the parties and the
// settings as committed, whoever committed them: this store in an earlier
// transaction, another store on the same file (another process), or
// itself earlier in the same transaction; and not a change that was
// rolled back, nor what another caller did to the parties it was given.
func TestKeptPartiesAndSettings(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "d.db")
	a, b := MustOpen(t, path), MustOpen(t, path)
	seen := func(db *DB) (ids []string, s deconflict.Settings) {
		t.Helper()
		if err := db.Update(ctx, func(tx deconflict.Tx) error {
			ps, err := tx.Parties(ctx)
			if err != nil {
				return err
			}
			for _, p := range ps {
				ids = append(ids, p.ID)
				p.ID, p.Keys = "changed-by-caller", append(p.Keys, "k") // must not reach the next caller
			}
			s, err = tx.Settings(ctx)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return ids, s
	}
	create := func(db *DB, id string, fail error) error {
		return db.Update(ctx, func(tx deconflict.Tx) error {
			if err := tx.CreateParty(ctx, &deconflict.Party{ID: id, Name: id, CreatedAt: time.Unix(1, 0)}); err != nil {
				return err
			}
			return fail
		})
	}
	if err := create(a, "alpha", nil); err != nil {
		t.Fatal(err)
	}
	if ids, s := seen(a); !slices.Equal(ids, []string{"alpha"}) || s != deconflict.DefaultSettings() {
		t.Fatalf("parties %v, settings %+v", ids, s)
	}
	seen(a) // read from what is kept, if anything is

	// Another store on the file adds a party and changes the settings.
	if err := create(b, "bravo", nil); err != nil {
		t.Fatal(err)
	}
	changed := deconflict.DefaultSettings()
	changed.NoticeS = 60
	if err := b.Update(ctx, func(tx deconflict.Tx) error { return tx.PutSettings(ctx, changed) }); err != nil {
		t.Fatal(err)
	}
	if ids, s := seen(a); !slices.Equal(ids, []string{"alpha", "bravo"}) || s != changed {
		t.Fatalf("after another store's commits: parties %v, settings %+v", ids, s)
	}

	// A party added and rolled back is not seen; one added and committed
	// by this store is.
	if err := create(a, "charlie", errors.New("roll back")); err == nil {
		t.Fatal("the transaction did not fail")
	}
	if ids, _ := seen(a); !slices.Equal(ids, []string{"alpha", "bravo"}) {
		t.Fatalf("after a rollback: parties %v", ids)
	}
	if err := create(a, "delta", nil); err != nil {
		t.Fatal(err)
	}
	if ids, _ := seen(a); !slices.Equal(ids, []string{"alpha", "bravo", "delta"}) {
		t.Fatalf("after this store's commit: parties %v", ids)
	}

	// Within a transaction, its own change is seen, and it keys and
	// settings alike.
	if err := a.Update(ctx, func(tx deconflict.Tx) error {
		if _, err := tx.Parties(ctx); err != nil {
			return err
		}
		if err := tx.PutPartyKeys(ctx, "alpha", []string{"key"}); err != nil {
			return err
		}
		ps, err := tx.Parties(ctx)
		if err != nil || len(ps) != 3 || !slices.Equal(ps[0].Keys, []string{"key"}) {
			t.Errorf("parties after PutPartyKeys in the transaction: %+v, %v", ps, err)
		}
		changed.NoticeS = 120
		if err := tx.PutSettings(ctx, changed); err != nil {
			return err
		}
		if s, err := tx.Settings(ctx); err != nil || s != changed {
			t.Errorf("settings after PutSettings in the transaction: %+v, %v", s, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := b.View(context.Background(), func(tx deconflict.Tx) error {
		ps, err := tx.Parties(ctx)
		if err == nil && !slices.Equal(ps[0].Keys, []string{"key"}) {
			t.Errorf("keys as another store reads them: %v", ps[0].Keys)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if ids, s := seen(a); !slices.Equal(ids, []string{"alpha", "bravo", "delta"}) || s != changed {
		t.Fatalf("after a transaction changed both: parties %v, settings %+v", ids, s)
	}
}

// TestKeptTops: a write transaction's LastSeq, DSSLastSeq and log hashes
// are the table's, whoever appended to it last: this store's earlier
// transactions, one that rolled back, another store on the same file, or
// a deletion of DSS records.
func TestKeptTops(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "d.db")
	a, b := MustOpen(t, path), MustOpen(t, path)
	hash := func(i int) [32]byte { return [32]byte{byte(i), 1} }
	// write appends n events, DSS records up to seq dss and log hashes
	// from storage index log, and fails with fail.
	write := func(db *DB, n int, dss int64, log int64, fail error) error {
		return db.Update(ctx, func(dtx deconflict.Tx) error {
			tx := dtx.(*tx)
			if _, err := tx.Settings(ctx); err != nil { // as a batch does first
				return err
			}
			for range n {
				if err := tx.AppendEvent(ctx, &deconflict.Event{Type: "test", Time: time.Unix(1, 0)}); err != nil {
					return err
				}
			}
			if dss > 0 {
				if err := tx.PutDSSRecord(ctx, "oir", fmt.Sprint(dss), dss, []byte("{}")); err != nil {
					return err
				}
			}
			if log >= 0 {
				if err := tx.PutLogHashes(ctx, log, [][32]byte{hash(int(log)), hash(int(log + 1))}); err != nil {
					return err
				}
			}
			return fail
		})
	}
	// check compares what a write transaction of a reads with the tables.
	check := func(step string) {
		t.Helper()
		var wantSeq, wantDSS int64
		var wantTop sql.NullInt64
		if err := b.read.QueryRowContext(ctx, "SELECT coalesce(max(seq), 0) FROM events").Scan(&wantSeq); err != nil {
			t.Fatal(err)
		}
		if err := b.read.QueryRowContext(ctx, "SELECT coalesce(max(seq), 0) FROM dss_records").Scan(&wantDSS); err != nil {
			t.Fatal(err)
		}
		if err := b.read.QueryRowContext(ctx, "SELECT max(idx) FROM log_hashes").Scan(&wantTop); err != nil {
			t.Fatal(err)
		}
		if !wantTop.Valid {
			wantTop.Int64 = -1
		}
		if err := a.Update(ctx, func(dtx deconflict.Tx) error {
			tx := dtx.(*tx)
			if _, err := tx.Settings(ctx); err != nil { // as a batch does first
				return err
			}
			seq, err := tx.LastSeq(ctx)
			if err != nil || seq != wantSeq {
				t.Errorf("%s: LastSeq = %d, %v; want %d", step, seq, err, wantSeq)
			}
			dss, err := tx.DSSLastSeq(ctx)
			if err != nil || dss != wantDSS {
				t.Errorf("%s: DSSLastSeq = %d, %v; want %d", step, dss, err, wantDSS)
			}
			top, err := tx.logTop(ctx)
			if err != nil || top != wantTop.Int64 {
				t.Errorf("%s: the last log hash at %d, %v; want %d", step, top, err, wantTop.Int64)
			}
			if wantTop.Valid {
				hs, err := tx.LogHashes(ctx, []int64{wantTop.Int64})
				if err != nil || hs[0] != hash(int(wantTop.Int64)) {
					t.Errorf("%s: the hash at %d is %x, %v", step, wantTop.Int64, hs, err)
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	check("empty")
	if err := write(a, 2, 2, 0, nil); err != nil {
		t.Fatal(err)
	}
	check("after this store's commit")
	check("again")
	if err := write(b, 1, 3, 2, nil); err != nil {
		t.Fatal(err)
	}
	check("after another store's commit")
	if err := write(a, 1, 4, 4, errors.New("roll back")); err == nil {
		t.Fatal("the transaction did not fail")
	}
	check("after a rollback")
	if err := write(a, 1, 0, 4, nil); err != nil {
		t.Fatal(err)
	}
	if err := write(a, 0, 0, 4, nil); deconflict.ErrorCode(err) != deconflict.EExists {
		t.Errorf("log hashes stored twice at 4: %v, want EExists", err)
	}
	// The last DSS record deleted, then the top purged.
	if err := a.Update(ctx, func(dtx deconflict.Tx) error {
		if _, err := dtx.Settings(ctx); err != nil {
			return err
		}
		return dtx.(*tx).PutDSSRecord(ctx, "oir", "3", 5, nil)
	}); err != nil {
		t.Fatal(err)
	}
	check("after a deletion")
	if err := a.Update(ctx, func(dtx deconflict.Tx) error {
		if _, err := dtx.Settings(ctx); err != nil {
			return err
		}
		_, err := dtx.(*tx).PurgeDSSTombstones(ctx, 5)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	check("after a purge")
}
