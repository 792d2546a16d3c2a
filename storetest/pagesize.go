package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/deconflict/deconflict"
)

// pageBytesItem is about the size of each item of testPagesEndAtMaxBytes,
// and pageBytesMax the MaxBytes it lists them with: a page takes about
// four of them (three stay within it, the fourth passes it).
const (
	pageBytesItem = 10_000
	pageBytesMax  = 35_000
)

// testPagesEndAtMaxBytes: a list with MaxBytes ends its pages once the
// items pass that size, each page holding at least one item, and the
// cursors lead through every item exactly once, in order. Without
// MaxBytes the same items come in one page.
func testPagesEndAtMaxBytes(t *testing.T, f Factory) {
	s := f.Open(t)
	filler := strings.Repeat("x", pageBytesItem)
	var ops []*deconflict.Operation
	var msgs []*deconflict.Message
	var evs []*deconflict.Event
	for i := range 30 {
		op := newOperation(i, "alpha", deconflict.StatePlanned, at(i), at(i+60), int64(i+1))
		op.Notes = ptr(filler)
		ops = append(ops, op)
		m := newMessage(i, "alpha", "bravo")
		m.Text = filler
		msgs = append(msgs, m)
		evs = append(evs, &deconflict.Event{Type: deconflict.EventHotlineMessage, Time: at(i),
			Data: json.RawMessage(fmt.Sprintf(`{"n":%d,"text":%q}`, i, filler))})
	}
	// One much larger than the bound: alone in its page.
	ops[7].Notes = ptr(strings.Repeat("y", 3*pageBytesMax))
	putAll(t, s, deconflict.Tx.PutOperation, ops...)
	putAll(t, s, deconflict.Tx.PutMessage, msgs...)
	putAll(t, s, deconflict.Tx.AppendEvent, evs...)

	pages := func(what string, fetch func(after string, maxBytes int) ([]string, string)) {
		t.Helper()
		for _, maxBytes := range []int{pageBytesMax, 0} {
			var all []string
			seen := map[string]bool{}
			after := ""
			for n := 0; ; n++ {
				if n > 100 {
					t.Fatalf("%s: too many pages", what)
				}
				page, next := fetch(after, maxBytes)
				if len(page) == 0 {
					t.Fatalf("%s (MaxBytes %d): an empty page", what, maxBytes)
				}
				if maxBytes > 0 && next != "" && (len(page) > 5 || (len(page) < 3 && !slices.Contains(page, opID(7)) && !slices.Contains(page, opID(8)))) {
					t.Errorf("%s: a page of %d items of about %d bytes, ended at %d bytes", what, len(page), pageBytesItem, maxBytes)
				}
				if maxBytes == 0 && next != "" {
					t.Errorf("%s: without MaxBytes, a page of %d ends early", what, len(page))
				}
				for _, k := range page {
					if seen[k] {
						t.Fatalf("%s: %s listed twice", what, k)
					}
					seen[k] = true
				}
				all = append(all, page...)
				if next == "" {
					break
				}
				after = next
			}
			if len(all) != 30 {
				t.Errorf("%s (MaxBytes %d): %d items listed, want 30", what, maxBytes, len(all))
			}
		}
	}
	pages("Operations", func(after string, maxBytes int) (keys []string, next string) {
		view(t, s, func(ctx context.Context, tx deconflict.Tx) error {
			got, n, err := tx.Operations(ctx, deconflict.OperationFilter{After: after, MaxBytes: maxBytes})
			for _, op := range got {
				keys = append(keys, op.ID)
			}
			next = n
			return err
		})
		return keys, next
	})
	// The large operation stands alone: the page before it ends with it.
	view(t, s, func(ctx context.Context, tx deconflict.Tx) error {
		got, _, err := tx.Operations(ctx, deconflict.OperationFilter{MaxBytes: pageBytesMax, Match: func(op *deconflict.Operation) bool { return op.Rev >= 8 }})
		if err == nil && (len(got) != 1 || got[0].ID != opID(7)) {
			t.Errorf("a page starting with an item over MaxBytes holds %d items, want just it", len(got))
		}
		return err
	})
	pages("Messages", func(after string, maxBytes int) (keys []string, next string) {
		view(t, s, func(ctx context.Context, tx deconflict.Tx) error {
			got, n, err := tx.Messages(ctx, deconflict.MessageFilter{After: after, MaxBytes: maxBytes})
			for _, m := range got {
				keys = append(keys, m.ID)
			}
			next = n
			return err
		})
		return keys, next
	})
	pages("EventsWithin", func(after string, maxBytes int) (keys []string, next string) {
		var seq int64
		fmt.Sscan(after, &seq)
		view(t, s, func(ctx context.Context, tx deconflict.Tx) error {
			got, err := tx.EventsWithin(ctx, seq, 1000, maxBytes)
			for _, e := range got {
				keys = append(keys, fmt.Sprint(e.Seq))
			}
			if len(got) > 0 && got[len(got)-1].Seq < int64(len(evs)) {
				next = fmt.Sprint(got[len(got)-1].Seq)
			}
			return err
		})
		return keys, next
	})
}
