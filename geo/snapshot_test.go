package geo

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"testing"
)

// TestSnapshotRoundTrip: an index read back from its snapshot answers
// every query as brute force does, over entries inserted, replaced and
// removed (free slots) before the snapshot and after it.
func TestSnapshotRoundTrip(t *testing.T) {
	r := newRand(t)
	centers := []vec{fromDegrees(33.5, 36.3), fromDegrees(0, 180), fromDegrees(90, 0)}
	ix := NewIndex()
	c := newChurn(t, r, 6, centers...)
	live, change := c.live, func(ix *Index) { c.step(ix) }
	check := func(ix *Index, what string) {
		t.Helper()
		if ix.Len() != len(live) {
			t.Fatalf("%s: Len = %d, want %d", what, ix.Len(), len(live))
		}
		for range 20 {
			q := randOp(t, r, centers[r.IntN(3)], 150_000)
			m := randMinima(r)
			exclude := fmt.Sprint("g", r.IntN(4))
			if got, want := ix.Conflicts(q, m, exclude), bruteConflicts(live, q, m, exclude); !slices.Equal(got, want) {
				t.Fatalf("%s, minima %+v:\n got %v\nwant %v", what, m, got, want)
			}
		}
	}
	for range cases(3) * 300 {
		change(ix)
	}
	for n, id := 0, 0; n < 5; id++ { // leave free slots
		if _, ok := live[c.ids[id]]; ok {
			ix.Remove(c.ids[id])
			delete(live, c.ids[id])
			n++
		}
	}
	snap := snapshotOf(t, ix)
	back, err := ReadSnapshot(snap)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.free) == 0 {
		t.Fatal("the scenario left no free slot: the test does not cover them")
	}
	if back.perTime != ix.perTime {
		t.Fatalf("items by time level %v, want %v", back.perTime, ix.perTime)
	}
	check(back, "read back")
	// Changes after the read must find every item where the snapshot put
	// it (remove panics on an item it cannot find).
	for range 300 {
		change(back)
	}
	check(back, "changed after the read")
	for _, id := range c.ids {
		back.Remove(id)
	}
	if back.Len() != 0 || len(back.buckets) != 0 || back.perTime != [timeLevels]int{} {
		t.Fatalf("after removing all: Len %d, %d buckets, items by time level %v", back.Len(), len(back.buckets), back.perTime)
	}
}

// TestSnapshotRefusesDamage: a cut or altered snapshot is an error, never
// a panic or an index that differs silently in its shape.
func TestSnapshotRefusesDamage(t *testing.T) {
	r := newRand(t)
	ix := NewIndex()
	for i := range 200 {
		ix.Insert(fmt.Sprint("op-", i), fmt.Sprint("g", i%3), randOp(t, r, fromDegrees(33.5, 36.3), 100_000))
	}
	ix.Remove("op-7")
	snap := snapshotOf(t, ix)
	for _, n := range []int{0, 5, len(snapshotMagic), len(snap) / 3, len(snap) - 1} {
		if _, err := ReadSnapshot(snap[:n]); !errors.Is(err, errSnapshot) && !errors.Is(err, errCorrupt) {
			t.Errorf("cut at %d of %d bytes: error %v", n, len(snap), err)
		}
	}
	other := slices.Clone(snap)
	other[len(snapshotMagic)+1]++ // cells version
	if _, err := ReadSnapshot(other); !errors.Is(err, errSnapshot) {
		t.Errorf("another cells version: error %v", err)
	}
	if _, err := ReadSnapshot(append(slices.Clone(snap), 0)); !errors.Is(err, errSnapshot) {
		t.Errorf("a byte too many: error %v", err)
	}
}

func FuzzReadSnapshot(f *testing.F) {
	r := newRand(f)
	ix := NewIndex()
	for i := range 20 {
		ix.Insert(fmt.Sprint("op-", i), fmt.Sprint("g", i%3), randOp(f, r, fromDegrees(33.5, 36.3), 100_000))
	}
	ix.Remove("op-3")
	f.Add(snapshotOf(f, ix))
	f.Add(snapshotOf(f, NewIndex()))
	f.Fuzz(func(t *testing.T, data []byte) {
		ix, err := ReadSnapshot(data)
		if err != nil {
			return
		}
		// Whatever reads back must survive being used.
		ix.Conflicts(randOp(t, r, fromDegrees(33.5, 36.3), 100_000), Minima{HorizontalM: 9260, VerticalM: 300, TimeS: 300}, "")
		snapshotOf(t, ix)
	})
}

func snapshotOf(t testing.TB, ix *Index) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := ix.WriteSnapshot(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestFreeze: a frozen index is written out as the index was when it was
// frozen, whatever changed in the index since.
func TestFreeze(t *testing.T) {
	r := newRand(t)
	centers := []vec{fromDegrees(33.5, 36.3), fromDegrees(-20, 179.9)}
	ix := NewIndex()
	live := map[string]indexed{}
	var ids []string
	change := func(record bool) {
		id := fmt.Sprintf("op-%d", r.IntN(len(ids)+1))
		if r.IntN(4) == 0 && len(ids) > 0 {
			id = ids[r.IntN(len(ids))]
			ix.Remove(id)
			if record {
				delete(live, id)
			}
			return
		}
		e := indexed{group: fmt.Sprint("g", r.IntN(3)), vols: randOp(t, r, centers[r.IntN(2)], 100_000)}
		ix.Insert(id, e.group, e.vols)
		ids = append(ids, id)
		if record {
			live[id] = e
		}
	}
	for range cases(3) * 200 {
		change(true)
	}
	frozen := ix.Freeze()
	if frozen.Len() != len(live) {
		t.Fatalf("frozen Len = %d, want %d", frozen.Len(), len(live))
	}
	// Changes after the freeze insert into, split and empty the buckets
	// the frozen copy holds, while it is written out (the race detector
	// watches what they share).
	var buf bytes.Buffer
	written := make(chan error, 1)
	go func() { written <- frozen.WriteSnapshot(&buf) }()
	for range cases(3) * 400 {
		change(false)
	}
	if err := <-written; err != nil {
		t.Fatal(err)
	}
	back, err := ReadSnapshot(buf.Bytes())
	if err != nil {
		t.Fatalf("read the frozen snapshot back: %v", err)
	}
	if back.Len() != len(live) {
		t.Fatalf("read back Len = %d, want %d", back.Len(), len(live))
	}
	for range 50 {
		q := randOp(t, r, centers[r.IntN(2)], 100_000)
		m := randMinima(r)
		if got, want := back.Conflicts(q, m, ""), bruteConflicts(live, q, m, ""); !slices.Equal(got, want) {
			t.Fatalf("frozen snapshot, minima %+v:\n got %v\nwant %v", m, got, want)
		}
	}
}

// TestSnapshotRefusesItemsOfNoCell: a snapshot whose bucket holds an item
// key that names no valid cell (its upper half zero, or a face past the
// sixth) is an error, not a panic. Items come last in a snapshot.
func TestSnapshotRefusesItemsOfNoCell(t *testing.T) {
	r := newRand(t)
	ix := NewIndex()
	ix.Insert("op", "g", randOp(t, r, fromDegrees(33.5, 36.3), 100_000))
	snap := snapshotOf(t, ix)
	var first, last uint64 // the first and last item of one bucket
	for _, b := range ix.buckets {
		c := b.items.chunks[len(b.items.chunks)-1]
		first, last = b.items.firsts[0], c[len(c)-1]
		break
	}
	for _, tc := range []struct {
		name     string
		old, new uint64
	}{
		{"upper half zero", first, uint64(keySlot(first))},
		{"face 7", last, 7<<61 | 1<<32 | uint64(keySlot(last))},
	} {
		at := bytes.LastIndex(snap, binary.LittleEndian.AppendUint64(nil, tc.old))
		if at < 0 {
			t.Fatalf("%s: item %#x not in the snapshot", tc.name, tc.old)
		}
		bad := slices.Clone(snap)
		binary.LittleEndian.PutUint64(bad[at:], tc.new)
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("%s: ReadSnapshot panics: %v", tc.name, p)
				}
			}()
			if _, err := ReadSnapshot(bad); !errors.Is(err, errSnapshot) {
				t.Errorf("%s: error %v", tc.name, err)
			}
		}()
	}
}
