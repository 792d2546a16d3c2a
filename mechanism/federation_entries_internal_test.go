package mechanism

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestRememberedEntriesBounded: whatever batches the writer remembers —
// with gaps between them (entries logged outside the writer), large
// records, and now and then a batch not after the last remembered (the
// log as another process left it) — the entries answered for a range
// are those of the last batches added, in increasing index order, each
// the one last added at its index and never one from before a batch that
// went back; the oldest are forgotten past the bounds.
func TestRememberedEntriesBounded(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var r rememberedEntries
	model := map[int64][]byte{} // index → record of what was added since the last going back
	next := int64(0)
	for round := range 3000 {
		if round%500 == 499 {
			// A batch at indexes already remembered: every earlier
			// entry is forgotten.
			next -= int64(rng.IntN(2000))
			next = max(next, 0)
			model = map[int64][]byte{}
		}
		next += int64(rng.IntN(4)) // a gap: entries the writer did not log
		n := 1 + rng.IntN(20)
		batch := make([]loggedEntry, n)
		for i := range batch {
			size := 64
			if rng.IntN(50) == 0 {
				size = 1 << 20 // a large record: the bytes bound
			}
			rec := bytes.Repeat([]byte{byte(next)}, size)
			rec = fmt.Appendf(rec, "%d", next)
			batch[i] = loggedEntry{index: next, record: rec}
			model[next] = rec
			next++
		}
		r.add(batch)
		if len(r.entries) > maxRememberedEntries {
			t.Fatalf("round %d: %d entries remembered: past the bound", round, len(r.entries))
		}
		bytesHeld := 0
		for _, e := range r.entries {
			bytesHeld += len(e.record)
		}
		if bytesHeld != r.bytes {
			t.Fatalf("round %d: %d bytes counted, %d held", round, r.bytes, bytesHeld)
		}
		from := max(0, next-int64(rng.IntN(3000)))
		end := from + int64(rng.IntN(1500))
		got := r.within(from, end)
		for i, e := range got {
			switch {
			case e.index < from || e.index >= end:
				t.Fatalf("round %d: within(%d, %d) answers entry %d", round, from, end, e.index)
			case i > 0 && e.index <= got[i-1].index:
				t.Fatalf("round %d: within(%d, %d) answers entry %d after %d", round, from, end, e.index, got[i-1].index)
			case !bytes.Equal(e.record, model[e.index]):
				t.Fatalf("round %d: entry %d answered is not the one last added at its index", round, e.index)
			}
		}
		// Forgetting only the oldest: every entry added at or after
		// the first one answered is answered.
		if len(got) > 0 {
			want := 0
			for i := got[0].index; i < end; i++ {
				if model[i] != nil {
					want++
				}
			}
			if len(got) != want {
				t.Fatalf("round %d: within(%d, %d) answers %d entries from %d, %d were added", round, from, end, len(got), got[0].index, want)
			}
		}
	}
}
