package geo

import (
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/golang/geo/s2"
)

func TestEncodeVolumesRoundTrip(t *testing.T) {
	r := newRand(t)
	centers := []vec{fromDegrees(33.5, 36.3), fromDegrees(0, 180), fromDegrees(90, 0), fromDegrees(-90, 0)}
	for i := range cases(500) {
		vols := randOp(t, r, centers[r.IntN(len(centers))], 150_000)
		got, err := DecodeVolumes(EncodeVolumes(vols))
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if len(got) != len(vols) {
			t.Fatalf("case %d: %d volumes, want %d", i, len(got), len(vols))
		}
		for j := range vols {
			g, w := got[j], vols[j]
			if !reflect.DeepEqual(g.Footprint, w.Footprint) {
				t.Fatalf("case %d, volume %d: footprint\n got %+v\nwant %+v", i, j, g.Footprint, w.Footprint)
			}
			if toVol(&g) != (vol{fp: g.Footprint, lower: w.LowerM, upper: w.UpperM, start: seconds(w.Start), end: seconds(w.End)}) {
				t.Fatalf("case %d, volume %d: got %+v, want %+v", i, j, g, w)
			}
		}
	}
}

func TestDecodeVolumesCorrupt(t *testing.T) {
	r := newRand(t)
	data := EncodeVolumes(randOp(t, r, fromDegrees(33.5, 36.3), 150_000))
	for n := range len(data) {
		if _, err := DecodeVolumes(data[:n]); err == nil {
			t.Fatalf("%d of %d bytes: no error", n, len(data))
		}
	}
	if _, err := DecodeVolumes(append(slices.Clone(data), 0)); err == nil {
		t.Fatal("a trailing byte: no error")
	}
	if _, err := DecodeVolumes(append([]byte{9}, data[1:]...)); err == nil {
		t.Fatal("another version: no error")
	}
}

// TestBuildIndexMatchesInsert checks that an index built at once from
// decoded compact volumes answers exactly as one filled by Insert with the
// parsed volumes, and as brute force.
func TestBuildIndexMatchesInsert(t *testing.T) {
	r := newRand(t)
	centers := []vec{fromDegrees(33.5, 36.3), fromDegrees(0, 180), fromDegrees(90, 0)}
	for round := range cases(5) {
		inserted := NewIndex()
		live := map[string]indexed{}
		var entries []Entry
		for i := range 200 + r.IntN(2000) {
			id := fmt.Sprintf("op-%d", i)
			if i > 0 && r.IntN(10) == 0 { // a replaced entry
				id = fmt.Sprintf("op-%d", r.IntN(i))
			}
			e := indexed{group: fmt.Sprint("g", r.IntN(3)), vols: randOp(t, r, centers[r.IntN(3)], 150_000)}
			inserted.Insert(id, e.group, e.vols)
			live[id] = e
			decoded, err := DecodeVolumes(EncodeVolumes(e.vols))
			if err != nil {
				t.Fatal(err)
			}
			entries = append(entries, Entry{ID: id, Group: e.group, Volumes: decoded})
		}
		built := BuildIndex(entries)
		if built.Len() != len(live) {
			t.Fatalf("round %d: Len = %d, want %d", round, built.Len(), len(live))
		}
		for q := range 200 {
			vols := randOp(t, r, centers[r.IntN(3)], 150_000)
			m := randMinima(r)
			exclude := fmt.Sprint("g", r.IntN(4))
			got, want := built.Conflicts(vols, m, exclude), inserted.Conflicts(vols, m, exclude)
			if !slices.Equal(got, want) {
				t.Fatalf("round %d, query %d, minima %+v:\n built %v\ninserted %v", round, q, m, got, want)
			}
			if q%20 == 0 {
				if brute := bruteConflicts(live, vols, m, exclude); !slices.Equal(got, brute) {
					t.Fatalf("round %d, query %d, minima %+v:\n built %v\n brute %v", round, q, m, got, brute)
				}
			}
		}
		// The built index still takes changes.
		for id := range live {
			if r.IntN(2) == 0 {
				built.Remove(id)
				inserted.Remove(id)
			}
		}
		for i := range 300 {
			id, vols := fmt.Sprintf("new-%d", i), randOp(t, r, centers[r.IntN(3)], 150_000)
			built.Insert(id, "g1", vols)
			inserted.Insert(id, "g1", vols)
		}
		for range 100 {
			vols := randOp(t, r, centers[r.IntN(3)], 150_000)
			m := randMinima(r)
			if got, want := built.Conflicts(vols, m, "g0"), inserted.Conflicts(vols, m, "g0"); !slices.Equal(got, want) {
				t.Fatalf("round %d after changes:\n built %v\ninserted %v", round, got, want)
			}
		}
	}
}

// TestDecodeVolumesOtherCells checks that cells filed another way are
// worked out again.
func TestDecodeVolumesOtherCells(t *testing.T) {
	r := newRand(t)
	vols := randOp(t, r, fromDegrees(33.5, 36.3), 150_000)
	data := EncodeVolumes(vols)
	data[1] = cellsVersion + 1
	for j := range vols {
		vols[j].Footprint.cells = []s2.CellID{s2.CellIDFromFace(0)} // as another version might have filed it
	}
	data2 := EncodeVolumes(vols)
	data2[1] = cellsVersion + 1
	got, err := DecodeVolumes(data2)
	if err != nil {
		t.Fatal(err)
	}
	want, err := DecodeVolumes(data)
	if err != nil {
		t.Fatal(err)
	}
	for j := range got {
		if !reflect.DeepEqual(got[j].Footprint.cells, capCells(want[j].Footprint.bound.Center(), want[j].Footprint.boundR)) {
			t.Fatalf("volume %d: cells %v, want them worked out again", j, got[j].Footprint.cells)
		}
	}
}
