package sqlite

import (
	"context"
	"errors"
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
