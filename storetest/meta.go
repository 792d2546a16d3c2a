package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/deconflict/deconflict"
)

// testMeta checks Meta and PutMeta: a missing name, a round trip of any
// bytes, a replace, an empty value, a rollback and (with Reopen) a
// restart.
func testMeta(t *testing.T, f Factory) {
	s := f.Open(t)
	view(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		if _, err := tx.Meta(ctx, "index_snapshot/x"); deconflict.ErrorCode(err) != deconflict.ENotFound {
			t.Errorf("Meta of a name never put: %v, want ENotFound", err)
		}
		return nil
	})
	hash := bytes.Repeat([]byte{0, 0xff, 0x80, 'a'}, 8)
	update(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		if err := tx.PutMeta(ctx, "index_snapshot/x", []byte("first")); err != nil {
			return err
		}
		if err := tx.PutMeta(ctx, "index_snapshot/x", hash); err != nil {
			return err
		}
		return tx.PutMeta(ctx, "empty", []byte{})
	})
	check := func(s deconflict.Store, what string) {
		view(t, s, func(ctx context.Context, tx deconflict.Tx) error {
			got, err := tx.Meta(ctx, "index_snapshot/x")
			if err != nil {
				t.Fatalf("Meta %s: %v", what, err)
			}
			equal(t, "Meta "+what, got, hash)
			got, err = tx.Meta(ctx, "empty")
			if err != nil {
				t.Fatalf("Meta of an empty value %s: %v", what, err)
			}
			equal(t, "Meta of an empty value "+what, got, []byte{})
			return nil
		})
	}
	check(s, "after PutMeta")
	fail := errors.New("roll back")
	err := s.Update(t.Context(), func(tx deconflict.Tx) error {
		if err := tx.PutMeta(t.Context(), "index_snapshot/x", []byte("lost")); err != nil {
			return err
		}
		return fail
	})
	if !errors.Is(err, fail) {
		t.Fatalf("Update: %v, want the error of fn", err)
	}
	check(s, "after a rolled back PutMeta")
	if f.Reopen != nil {
		check(f.Reopen(t, s), "after a reopen")
	}
}
