package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/deconflict/deconflict"
)

// logHash returns the hash the tests store at the storage index: a
// different one for each index, all zeros at 5 and all ones at 6.
func logHash(idx int64) [32]byte {
	switch idx {
	case 5:
		return [32]byte{}
	case 6:
		var h [32]byte
		for i := range h {
			h[i] = 0xff
		}
		return h
	}
	return sha256.Sum256([]byte("log hash " + strconv.FormatInt(idx, 10)))
}

// logHashes returns the hashes of the n storage indexes from start.
func logHashes(start int64, n int) [][32]byte {
	hs := make([][32]byte, n)
	for i := range hs {
		hs[i] = logHash(start + int64(i))
	}
	return hs
}

// span returns the n indexes from start.
func span(start int64, n int) []int64 {
	idx := make([]int64, n)
	for i := range idx {
		idx[i] = start + int64(i)
	}
	return idx
}

// putLogHashes stores hashes in one Update.
func putLogHashes(t *testing.T, s deconflict.Store, start int64, hashes [][32]byte) {
	t.Helper()
	update(t, s, func(ctx context.Context, tx deconflict.Tx) error { return tx.PutLogHashes(ctx, start, hashes) })
}

// checkLogHashes checks, in one View, that LogHashes returns the hashes
// the tests store at the indexes.
func checkLogHashes(t *testing.T, s deconflict.Store, what string, indexes []int64) {
	t.Helper()
	view(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		got, err := tx.LogHashes(ctx, indexes)
		if err != nil {
			t.Errorf("%s: LogHashes(%v): %v", what, indexes, err)
			return nil
		}
		want := make([][32]byte, len(indexes))
		for i, idx := range indexes {
			want[i] = logHash(idx)
		}
		equal(t, fmt.Sprintf("%s: LogHashes(%v)", what, indexes), got, want)
		return nil
	})
}

// wantNoLogHash checks, in one View, that LogHashes of the indexes fails
// with ENotFound naming missing, the first index asked that has no hash.
func wantNoLogHash(t *testing.T, s deconflict.Store, what string, indexes []int64, missing int64) {
	t.Helper()
	view(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		got, err := tx.LogHashes(ctx, indexes)
		what := fmt.Sprintf("%s: LogHashes(%v)", what, indexes)
		wantCode(t, what, err, deconflict.ENotFound)
		if err != nil && !strings.Contains(deconflict.ErrorMessage(err), strconv.FormatInt(missing, 10)) {
			t.Errorf("%s: error %q does not name index %d", what, deconflict.ErrorMessage(err), missing)
		}
		if err != nil && got != nil {
			t.Errorf("%s: returned %d hashes with an error", what, len(got))
		}
		return nil
	})
}

// testLogHashesRange checks that PutLogHashes refuses storage indexes
// outside tlog's range, negative or past the largest int64, with
// EInvalid (a negative start also with no hashes), and keeps none of the
// hashes.
func testLogHashesRange(t *testing.T, f Factory) {
	s := f.Open(t)
	ctx := t.Context()
	for _, c := range []struct {
		start int64
		n     int
	}{{-1, 1}, {-5, 3}, {math.MaxInt64, 2}, {math.MinInt64, 0}} {
		err := s.Update(ctx, func(tx deconflict.Tx) error {
			return tx.PutLogHashes(ctx, c.start, make([][32]byte, c.n))
		})
		wantCode(t, fmt.Sprintf("PutLogHashes(%d, %d hashes)", c.start, c.n), err, deconflict.EInvalid)
	}
	equal(t, "log hashes after the refused puts", readContents(t, s).LogHashes, map[int64][32]byte{})
	wantNoLogHash(t, s, "after the refused puts", []int64{math.MaxInt64}, math.MaxInt64)
}

func testLogHashes(t *testing.T, f Factory) {
	s := f.Open(t)
	ctx := t.Context()

	// An empty log.
	wantNoLogHash(t, s, "empty log", []int64{0}, 0)
	view(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		got, err := tx.LogHashes(ctx, nil)
		if err != nil || len(got) != 0 {
			t.Errorf("LogHashes(nil) = %d hashes, %v; want none", len(got), err)
		}
		return nil
	})
	update(t, s, func(ctx context.Context, tx deconflict.Tx) error { return tx.PutLogHashes(ctx, 0, nil) })
	wantNoLogHash(t, s, "after storing no hashes", []int64{0}, 0)

	// The log grows as tlog grows it: a few hashes at a time, then a
	// batch longer than a store might write in one statement.
	putLogHashes(t, s, 0, logHashes(0, 1))
	putLogHashes(t, s, 1, logHashes(1, 2))
	update(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		if err := tx.PutLogHashes(ctx, 3, logHashes(3, 1)); err != nil {
			return err
		}
		// What the transaction stored, it reads.
		got, err := tx.LogHashes(ctx, []int64{3, 0})
		if err != nil {
			return err
		}
		equal(t, "LogHashes in the Update that stored them", got, [][32]byte{logHash(3), logHash(0)})
		got, err = tx.LogHashes(ctx, []int64{1, 3, 3, 2})
		if err != nil {
			return err
		}
		equal(t, "LogHashes in the Update, mixed and repeated", got, [][32]byte{logHash(1), logHash(3), logHash(3), logHash(2)})
		// One missing among hashes the transaction stored: ENotFound,
		// naming it.
		_, err = tx.LogHashes(ctx, []int64{3, 90, 0})
		if deconflict.ErrorCode(err) != deconflict.ENotFound || !strings.Contains(err.Error(), "90") {
			t.Errorf("LogHashes([3 90 0]) in the Update that stored 3: %v, want ENotFound naming 90", err)
		}
		return tx.PutLogHashes(ctx, 4, logHashes(4, 3))
	})
	// The store keeps its own copy of the hashes.
	in := logHashes(7, 150)
	putLogHashes(t, s, 7, in)
	for i := range in {
		in[i] = [32]byte{1}
	}
	const size = 157

	checkLogHashes(t, s, "stored", span(0, size))
	checkLogHashes(t, s, "one", []int64{5})
	checkLogHashes(t, s, "one", []int64{6})
	reversed := span(0, size)
	slices.Reverse(reversed)
	checkLogHashes(t, s, "reversed", reversed)
	checkLogHashes(t, s, "repeated", []int64{2, 9, 2, 0, 156, 9, 9})
	checkLogHashes(t, s, "as tlog reads them", []int64{126, 5, 0, 30, 141, 62, 149})
	many := make([]int64, 0, 3*size)
	for i := range 3 * size {
		many = append(many, int64(i*7919%size))
	}
	checkLogHashes(t, s, "many, scattered", many)

	// Missing hashes.
	wantNoLogHash(t, s, "past the end", []int64{size}, size)
	wantNoLogHash(t, s, "past the end", []int64{0, 1, size + 40, 2, size}, size+40)
	wantNoLogHash(t, s, "negative", []int64{3, -1}, -1)
	wantNoLogHash(t, s, "far past the end", append(span(0, size), 1<<40), 1<<40)

	// Storing a hash where one is: EExists, and none of the call's
	// hashes are kept, even with the transaction going on to commit.
	// Stores may check the range in pieces: the one stored is at the end
	// of a long call.
	putLogHashes(t, s, size+200, logHashes(size+200, 2))
	for _, c := range []struct {
		start int64
		n     int
	}{
		{0, 1},
		{size - 1, 3},        // the first of three
		{size + 190, 11},     // the last of eleven, past a gap
		{size + 195, 10},     // the middle
		{size, 201},          // the last of a long call
		{size + 201, 1},      // the second stored
		{size - 100, 100},    // all of them
		{size + 199, 3},      // both, and one either side
		{size, 1000},         // a long call, over both
		{size + 201, 1 << 9}, // from the second
	} {
		what := fmt.Sprintf("PutLogHashes(%d, %d hashes)", c.start, c.n)
		update(t, s, func(ctx context.Context, tx deconflict.Tx) error {
			err := tx.PutLogHashes(ctx, c.start, logHashes(c.start+1000, c.n))
			wantCode(t, what+" over stored hashes", err, deconflict.EExists)
			// The transaction goes on, and commits.
			got, err := tx.LogHashes(ctx, []int64{size - 1})
			if err != nil {
				return err
			}
			equal(t, what+": LogHashes after EExists", got, [][32]byte{logHash(size - 1)})
			return nil
		})
		err := s.Update(ctx, func(tx deconflict.Tx) error { return tx.PutLogHashes(ctx, c.start, logHashes(c.start, c.n)) })
		wantCode(t, what+" of the same hashes", err, deconflict.EExists)
	}
	checkLogHashes(t, s, "after EExists", span(0, size))
	checkLogHashes(t, s, "after EExists", span(size+200, 2))
	wantNoLogHash(t, s, "after EExists", []int64{size}, size)
	wantNoLogHash(t, s, "after EExists", []int64{size + 199}, size+199)
	wantNoLogHash(t, s, "after EExists", []int64{size + 202}, size+202)
	for idx := int64(size); idx < size+200; idx += 13 {
		wantNoLogHash(t, s, "after EExists", []int64{idx}, idx)
	}

	// The gap fills.
	putLogHashes(t, s, size, logHashes(size, 200))
	putLogHashes(t, s, size+202, logHashes(size+202, 3))
	checkLogHashes(t, s, "gap filled", span(0, size+205))
	wantNoLogHash(t, s, "gap filled", span(0, size+206), size+205)

	// Within one Update, hashes it stored count as stored: a later call
	// over them is EExists, whether or not the store has written them out
	// yet, and the others commit.
	update(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		if err := tx.PutLogHashes(ctx, size+205, logHashes(size+205, 2)); err != nil {
			return err
		}
		if err := tx.PutLogHashes(ctx, size+209, logHashes(size+209, 100)); err != nil {
			return err
		}
		for _, c := range []struct {
			start int64
			n     int
		}{{size + 206, 1}, {size + 207, 3}, {size + 300, 20}, {size + 205, 200}} {
			err := tx.PutLogHashes(ctx, c.start, logHashes(c.start+1000, c.n))
			wantCode(t, fmt.Sprintf("PutLogHashes(%d, %d hashes) over hashes of the same Update", c.start, c.n), err, deconflict.EExists)
		}
		return tx.PutLogHashes(ctx, size+207, logHashes(size+207, 2))
	})
	checkLogHashes(t, s, "stored in one Update", span(0, size+309))
	wantNoLogHash(t, s, "stored in one Update", []int64{size + 309}, size+309)

	// A failed Update keeps none of its hashes, and the next Update may
	// store them.
	boom := errors.New("boom")
	const size2 = size + 309
	err := s.Update(ctx, func(tx deconflict.Tx) error {
		if err := tx.PutLogHashes(ctx, size2, logHashes(size2, 2)); err != nil {
			return err
		}
		if err := tx.PutLogHashes(ctx, size2+2, logHashes(size2+2, 300)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Errorf("Update with fn failing: error %v, want the error of fn", err)
	}
	wantNoLogHash(t, s, "after a failed Update", []int64{size2}, size2)
	wantNoLogHash(t, s, "after a failed Update", []int64{size2 + 95}, size2+95)
	putLogHashes(t, s, size2, logHashes(size2, 2))
	checkLogHashes(t, s, "after a failed Update", span(0, size2+2))
}

// wantKey returns k as a store returns it.
func wantKey(k *deconflict.SigningKey) *deconflict.SigningKey {
	c := *k
	c.CreatedAt = c.CreatedAt.UTC().Truncate(time.Microsecond)
	if k.RetiredAt != nil {
		c.RetiredAt = ptr(k.RetiredAt.UTC().Truncate(time.Microsecond))
	}
	return &c
}

// newKey returns the n-th signing key of the tests, with every field set
// but RetiredAt.
func newKey(name string, n int) *deconflict.SigningKey {
	return &deconflict.SigningKey{
		Name:      name,
		Verifier:  fmt.Sprintf("%s+%08x+AVerifier%d", name, n*2654435761, n),
		Signer:    fmt.Sprintf("PRIVATE+KEY+%s+%08x+ASigner%d", name, n*2654435761, n),
		CreatedAt: at(n).Add(789 * time.Nanosecond),
	}
}

// listKeys returns what Keys returns, nil for none.
func listKeys(t *testing.T, s deconflict.Store) []*deconflict.SigningKey {
	t.Helper()
	ks := read(t, s, func(ctx context.Context, tx deconflict.Tx) ([]*deconflict.SigningKey, error) { return tx.Keys(ctx) })
	if len(ks) == 0 {
		return nil
	}
	return ks
}

func testKeys(t *testing.T, f Factory) {
	s := f.Open(t)
	ctx := t.Context()
	if ks := listKeys(t, s); ks != nil {
		t.Errorf("Keys of an empty store: %s", dump(ks))
	}

	// Names not in the order stored, so that a store listing by name
	// fails; two keys created at the same time.
	k1, k2, k3 := newKey("zulu.example", 1), newKey("alpha.example", 2), newKey("mike.example", 2)
	k1.RetiredAt = ptr(at(3))
	putAll(t, s, deconflict.Tx.PutKey, k1)
	putAll(t, s, deconflict.Tx.PutKey, k2, k3)
	all := []*deconflict.SigningKey{k1, k2, k3}
	equal(t, "Keys", listKeys(t, s), wantAll(wantKey, all))

	// The store keeps its own copy.
	k2.Signer, k1.RetiredAt = "changed after PutKey", ptr(at(4))
	equal(t, "Keys after changing the keys stored", listKeys(t, s), wantAll(wantKey, []*deconflict.SigningKey{
		{Name: k1.Name, Verifier: k1.Verifier, Signer: k1.Signer, CreatedAt: k1.CreatedAt, RetiredAt: ptr(at(3))},
		newKey("alpha.example", 2), k3,
	}))
	k2.Signer, k1.RetiredAt = newKey("alpha.example", 2).Signer, ptr(at(3))

	// A replace changes every field and keeps the key's place.
	k4 := newKey("bravo.example", 4)
	k1 = newKey("zulu.example", 10)
	k2.RetiredAt = ptr(at(11))
	putAll(t, s, deconflict.Tx.PutKey, k4, k1, k2)
	all = []*deconflict.SigningKey{k1, k2, k3, k4}
	equal(t, "Keys after replacing", listKeys(t, s), wantAll(wantKey, all))
	k2.Verifier, k2.Signer, k2.RetiredAt = "alpha.example+00000000+Anew", "PRIVATE+KEY+alpha.example+00000000+Anew", nil
	putAll(t, s, deconflict.Tx.PutKey, k2)
	equal(t, "Keys after replacing again", listKeys(t, s), wantAll(wantKey, all))

	// A failed Update keeps nothing.
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx deconflict.Tx) error {
		if err := tx.PutKey(ctx, newKey("yankee.example", 20)); err != nil {
			return err
		}
		if err := tx.PutKey(ctx, &deconflict.SigningKey{Name: k3.Name, CreatedAt: at(20)}); err != nil {
			return err
		}
		ks, err := tx.Keys(ctx)
		if err != nil {
			return err
		}
		if len(ks) != 5 || ks[2].Name != k3.Name || ks[2].Verifier != "" || ks[4].Name != "yankee.example" {
			t.Errorf("Keys in the Update that stored them: %s", dump(ks))
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Errorf("Update with fn failing: error %v, want the error of fn", err)
	}
	equal(t, "Keys after a failed Update", listKeys(t, s), wantAll(wantKey, all))

	// A key stored after the failed Update comes last.
	k5 := newKey("yankee.example", 21)
	putAll(t, s, deconflict.Tx.PutKey, k5)
	all = append(all, k5)
	equal(t, "Keys after a failed Update and a put", listKeys(t, s), wantAll(wantKey, all))
}

// testRecordReopen checks that the log and the keys outlive a reopen, and
// that the log and the order of keys carry on.
func testRecordReopen(t *testing.T, f Factory) {
	if f.Reopen == nil {
		t.Skip("storetest: Factory.Reopen is nil")
	}
	s := f.Open(t)
	ctx := t.Context()
	putLogHashes(t, s, 0, logHashes(0, 7))
	k1, k2 := newKey("zulu.example", 1), newKey("alpha.example", 2)
	k1.RetiredAt = ptr(at(5))
	putAll(t, s, deconflict.Tx.PutKey, k1, k2)

	s = f.Reopen(t, s)
	checkLogHashes(t, s, "after reopening", span(0, 7))
	wantNoLogHash(t, s, "after reopening", []int64{7}, 7)
	equal(t, "Keys after reopening", listKeys(t, s), wantAll(wantKey, []*deconflict.SigningKey{k1, k2}))

	err := s.Update(ctx, func(tx deconflict.Tx) error { return tx.PutLogHashes(ctx, 6, logHashes(6, 2)) })
	wantCode(t, "PutLogHashes over a hash stored before reopening", err, deconflict.EExists)
	putLogHashes(t, s, 7, logHashes(7, 3))
	k3 := newKey("mike.example", 3)
	k1.RetiredAt = nil
	putAll(t, s, deconflict.Tx.PutKey, k3, k1)

	s = f.Reopen(t, s)
	checkLogHashes(t, s, "after reopening again", span(0, 10))
	equal(t, "Keys after reopening again", listKeys(t, s), wantAll(wantKey, []*deconflict.SigningKey{k1, k2, k3}))
}
