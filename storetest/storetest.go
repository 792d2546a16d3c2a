// Package storetest is the conformance suite of deconflict.Store: one set
// of tests that every store (sqlite, postgres, …) passes, so that the
// mechanism may rely on what the Store and Tx interfaces document and on
// nothing a single store happens to do.
//
// A store's own tests call it:
//
//	func TestStore(t *testing.T) {
//		storetest.RunFactory(t, storetest.Factory{
//			Open:   func(t *testing.T) deconflict.Store { … a new, empty store … },
//			Reopen: func(t *testing.T, s deconflict.Store) deconflict.Store { … },
//			Share:  func(t *testing.T, s deconflict.Store) deconflict.Store { … },
//		})
//	}
//
// or, without the tests that need a reopen or a second store on the same
// data, storetest.Run(t, open).
//
// Beyond the interface documentation, the suite holds stores to these:
//   - Times come back in UTC, equal to what was stored to the microsecond.
//   - Every field of every record comes back as it was stored, including
//     nil and non-nil pointers and nil entries of maps; Event.Data comes
//     back as equivalent JSON, and an empty Event.Audience may come back
//     nil.
//   - A list whose page is full returns a cursor, and the next page is not
//     empty; the last page returns "". A Limit of 0 (and an Events or
//     DutiesDue limit of 0) means 1000. A cursor the store did not make
//     fails with EInvalid.
//   - OperationFilter's Start and End select operations whose [Start, End]
//     shares at least an instant with the window, ends included; a zero
//     Start or End leaves that side open.
//   - A pair of operations has one conflict: PutConflict of a second one
//     for the same pair fails with EExists.
//   - Update returns the error of fn as it is (or wrapped); if fn fails or
//     panics, nothing is kept, sequence numbers included, and the store
//     takes the next Update. An Update whose context ends before it
//     commits fails and keeps nothing. A write in a View fails.
//   - OperationsSince lets fn write in the same transaction, and then
//     still ends, visiting no operation twice.
//   - DutyFilter's Subject matches kind and ID; Escalated selects Level ≥
//     1, Open AckedAt nil. DutiesDue compares DueAt with now to the
//     microsecond, now included; of duties due at the same time, any may
//     come first.
//   - MessageFilter's Party matches From.Party or an entry of To exactly,
//     and a message is listed once, whatever its To holds. A replace
//     readdresses the message.
//   - Webhooks orders by party, then name, bytewise. PutDelivery and
//     DeleteWebhook of a webhook that does not exist fail with ENotFound.
//   - PutLogHashes of no hashes does nothing; of a storage index outside
//     tlog's range (negative, or past the largest int64) it fails with
//     EInvalid, even of no hashes, and stores none. When it fails with EExists
//     it stores none of its hashes, and the transaction goes on: fn may
//     carry on and commit. The indexes need not follow those stored. The
//     ENotFound of LogHashes names, in its message, the first index asked
//     that has no hash; a negative index has none. LogHashes may be asked
//     for an index twice, and for many at once.
//   - A store that implements deconflict.GeometryTx gives back, from
//     LiveGeometries, the geometry bytes of the last PutOperationGeometry
//     exactly (an empty one as empty, not nil), and the whole operation
//     for one last stored by PutOperation.
//   - Keys lists keys in the order they were first stored; a replace
//     keeps its place.
//   - Meta gives back the bytes of the last PutMeta of the name exactly
//     (an empty value as empty, not nil), and survives a reopen; a
//     PutMeta in a transaction that fails is not kept.
//
// Set DECONFLICT_STORETEST_SEED to repeat the randomised tests with the
// seed they print.
package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/deconflict/deconflict"
)

// Factory makes the stores the suite tests.
type Factory struct {
	// Open returns a new, empty store. It arranges, with t.Cleanup, for
	// the store to be closed.
	Open func(t *testing.T) deconflict.Store
	// Reopen, if set, closes s and opens the same store again, as a
	// restarted program would, and arranges for the new store to be
	// closed. The suite skips its durability tests when Reopen is nil.
	Reopen func(t *testing.T, s deconflict.Store) deconflict.Store
	// Share, if set, opens a second store on the data of s, beside s and
	// as another process or replica would, and arranges for it to be
	// closed. The suite skips its tests of stores shared so when Share
	// is nil.
	Share func(t *testing.T, s deconflict.Store) deconflict.Store
}

// Run runs the suite on the stores open returns, without the tests that
// need to reopen a store.
func Run(t *testing.T, open func(t *testing.T) deconflict.Store) {
	RunFactory(t, Factory{Open: open})
}

// RunFactory runs the whole suite on the stores f makes.
func RunFactory(t *testing.T, f Factory) {
	t.Helper()
	if f.Open == nil {
		t.Fatal("storetest: Factory.Open is nil")
	}
	for _, tc := range []struct {
		name string
		test func(*testing.T, Factory)
	}{
		{"Parties", testParties},
		{"Tokens", testTokens},
		{"Settings", testSettings},
		{"OperationRoundTrip", testOperationRoundTrip},
		{"PutOperationReplaces", testPutOperationReplaces},
		{"OperationsFilter", testOperationsFilter},
		{"OperationsTimeWindow", testOperationsTimeWindow},
		{"OperationsMatch", testOperationsMatch},
		{"OperationsSince", testOperationsSince},
		{"OperationsSinceWrites", testOperationsSinceWrites},
		{"LiveGeometries", testLiveGeometries},
		{"LiveGeometriesMany", testLiveGeometriesMany},
		{"GeometriesSince", testGeometriesSince},
		{"Prefetch", testPrefetch},
		{"ConflictRoundTrip", testConflictRoundTrip},
		{"ConflictPairs", testConflictPairs},
		{"ConflictsFilter", testConflictsFilter},
		{"DutyRoundTrip", testDutyRoundTrip},
		{"DutiesFilter", testDutiesFilter},
		{"DutiesDue", testDutiesDue},
		{"MessageRoundTrip", testMessageRoundTrip},
		{"MessagesFilter", testMessagesFilter},
		{"Webhooks", testWebhooks},
		{"LogHashes", testLogHashes},
		{"LogHashesRange", testLogHashesRange},
		{"PeerHashes", testPeerHashes},
		{"Keys", testKeys},
		{"Meta", testMeta},
		{"Events", testEvents},
		{"EventsPaging", testEventsPaging},
		{"EventsExcept", testEventsExcept},
		{"PagesEndAtMaxBytes", testPagesEndAtMaxBytes},
		{"DefaultLimit", testDefaultLimit},
		{"InvalidCursor", testInvalidCursor},
		{"Times", testTimes},
		{"Rollback", testRollback},
		{"RollbackOnPanic", testRollbackOnPanic},
		{"ViewSeesCommitted", testViewSeesCommitted},
		{"ViewSnapshot", testViewSnapshot},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"ViewReadOnly", testViewReadOnly},
		{"ContextCanceled", testContextCanceled},
		{"SharedWrites", testSharedWrites},
		{"Reopen", testReopen},
		{"RecordReopen", testRecordReopen},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, f) })
	}
}

// update runs fn in s.Update and fails the test on an error.
func update(t *testing.T, s deconflict.Store, fn func(ctx context.Context, tx deconflict.Tx) error) {
	t.Helper()
	ctx := t.Context()
	if err := s.Update(ctx, func(tx deconflict.Tx) error { return fn(ctx, tx) }); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// view runs fn in s.View and fails the test on an error.
func view(t *testing.T, s deconflict.Store, fn func(ctx context.Context, tx deconflict.Tx) error) {
	t.Helper()
	ctx := t.Context()
	if err := s.View(ctx, func(tx deconflict.Tx) error { return fn(ctx, tx) }); err != nil {
		t.Fatalf("View: %v", err)
	}
}

// read returns what get reads in one View, failing the test on an error.
func read[T any](t *testing.T, s deconflict.Store, get func(ctx context.Context, tx deconflict.Tx) (T, error)) T {
	t.Helper()
	var v T
	view(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		var err error
		v, err = get(ctx, tx)
		return err
	})
	return v
}

// putAll stores the items with put (a method expression such as
// deconflict.Tx.PutDuty) in one Update, in order.
func putAll[T any](t *testing.T, s deconflict.Store, put func(deconflict.Tx, context.Context, T) error, items ...T) {
	t.Helper()
	update(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		for _, v := range items {
			if err := put(tx, ctx, v); err != nil {
				return err
			}
		}
		return nil
	})
}

// checkByID checks, in one View, that get (a lookup by ID such as
// deconflict.Tx.Duty) reads back each of want as wantOne gives it, and
// fails with ENotFound for the ID unknown.
func checkByID[T any](t *testing.T, s deconflict.Store, what string, get func(deconflict.Tx, context.Context, string) (T, error),
	id func(T) string, wantOne func(T) T, want []T, unknown string) {
	t.Helper()
	view(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		for _, v := range want {
			got, err := get(tx, ctx, id(v))
			if err != nil {
				t.Fatalf("%s: %s: %v", what, id(v), err)
			}
			equal(t, what+": "+id(v), got, wantOne(v))
		}
		_, err := get(tx, ctx, unknown)
		wantCode(t, what+": an unknown ID", err, deconflict.ENotFound)
		return nil
	})
}

// wantCode fails the test unless err carries the error code.
func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := deconflict.ErrorCode(err); got != code {
		t.Errorf("%s: error %v has code %q, want %q", what, err, got, code)
	}
}

// equal fails the test unless got and want are deeply equal.
func equal(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %s\nwant %s", what, dump(got), dump(want))
	}
}

// dump shows v for a test failure, with the fields JSON leaves out of
// operations, tokens, events, duties, messages, keys and webhooks; a list
// of records or of hashes one to a line.
func dump(v any) string {
	switch rv := reflect.ValueOf(v); {
	case (rv.Kind() == reflect.Slice || rv.Kind() == reflect.Pointer) && rv.IsNil():
		return "nil"
	case rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() != reflect.Uint8:
		s := "["
		for i := range rv.Len() {
			s += "\n  " + dump(rv.Index(i).Interface())
		}
		return s + "]"
	}
	var extra string
	switch v := v.(type) {
	case [32]byte:
		return fmt.Sprintf("%x", v)
	case *deconflict.Operation:
		extra = fmt.Sprintf("start=%s end=%s rev=%d", fmtTime(v.Start), fmtTime(v.End), v.Rev)
	case *deconflict.Token:
		extra = fmt.Sprintf("hash=%x", v.Hash)
	case *deconflict.Event:
		extra = fmt.Sprintf("audience=%q", v.Audience)
	case *deconflict.Duty:
		extra = fmt.Sprintf("version=%d created=%s due=%s acked=%s", v.Version,
			fmtTime(v.CreatedAt), fmtTimePtr(v.DueAt), fmtTimePtr(v.AckedAt))
	case *deconflict.Message:
		extra = fmt.Sprintf("token=%q", v.From.TokenID)
	case *deconflict.SigningKey:
		extra = fmt.Sprintf("signer=%q", v.Signer)
	case *deconflict.Webhook:
		extra = fmt.Sprintf("secret=%q", v.Secret)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%#v", v)
	}
	if extra != "" {
		return string(b) + " " + extra
	}
	return string(b)
}

// fmtTime shows a time with its zone.
func fmtTime(t time.Time) string {
	return t.Format(time.RFC3339Nano) + " (" + t.Location().String() + ")"
}

// fmtTimePtr shows a time or nil.
func fmtTimePtr(t *time.Time) string {
	if t == nil {
		return "nil"
	}
	return fmtTime(*t)
}

// seed returns the seed of a randomised test, and logs it.
func seed(t *testing.T) uint64 {
	t.Helper()
	s := uint64(time.Now().UnixNano())
	if v := os.Getenv("DECONFLICT_STORETEST_SEED"); v != "" {
		var err error
		if s, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("DECONFLICT_STORETEST_SEED: %v", err)
		}
	}
	t.Logf("seed %d (set DECONFLICT_STORETEST_SEED to repeat)", s)
	return s
}

// collect returns the items of every page list returns, each page read
// in a View of its own, from the first until one with no next cursor:
// before each page it sets *after, the After of the filter list lists
// by, to the cursor of the page before. It checks that pages hold at
// most limit items (1000 for 0), that only full pages have a next
// cursor, that a cursor is never followed by an empty page and that no
// item (by key) is listed twice.
func collect[T any](t *testing.T, s deconflict.Store, what string, limit int, after *string, list func(ctx context.Context, tx deconflict.Tx) ([]T, string, error), key func(T) string) []T {
	t.Helper()
	if limit <= 0 {
		limit = 1000
	}
	var all []T
	seen := map[string]bool{}
	*after = ""
	for pages := 0; ; pages++ {
		if pages > 100_000 {
			t.Fatalf("%s: too many pages", what)
		}
		var page []T
		var next string
		view(t, s, func(ctx context.Context, tx deconflict.Tx) error {
			var err error
			page, next, err = list(ctx, tx)
			return err
		})
		if len(page) > limit {
			t.Fatalf("%s: page of %d, limit %d", what, len(page), limit)
		}
		if next != "" && len(page) < limit {
			t.Fatalf("%s: page of %d, limit %d, with a next cursor", what, len(page), limit)
		}
		if len(page) == 0 && pages > 0 {
			t.Errorf("%s: an empty page follows a cursor", what)
		}
		for _, v := range page {
			if k := key(v); seen[k] {
				t.Fatalf("%s: %s listed twice", what, k)
			} else {
				seen[k] = true
			}
		}
		all = append(all, page...)
		if next == "" {
			return all
		}
		*after = next
	}
}
