package snapshot

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/geo"
	"github.com/deconflict/deconflict/sqlite"
)

// index is an Index and a Target over a geo.Index held in memory.
type index struct {
	ix        *geo.Index
	rev       int64
	caughtUp  int
	loaded    *geo.Index
	loadedRev int64
}

func (x *index) Rev() int64                          { return x.rev }
func (x *index) Freeze() (*geo.Frozen, int64, error) { return x.ix.Freeze(), x.rev, nil }
func (x *index) CatchUp(ctx context.Context, tx dc.Tx, ix *geo.Index, rev int64) (int, error) {
	return x.caughtUp, nil
}
func (x *index) Use(ctx context.Context, tx dc.Tx, ix *geo.Index, last int64) error {
	x.loaded, x.loadedRev = ix, last
	return nil
}

func openStore(t *testing.T) *sqlite.DB {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "d.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// oneEntry returns an index holding one operation's volume.
func oneEntry(t *testing.T) *geo.Index {
	t.Helper()
	start := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	v := dc.Volume4D{
		TimeStart: &dc.Time{Value: start.Format(time.RFC3339), Format: "RFC3339"},
		TimeEnd:   &dc.Time{Value: start.Add(time.Hour).Format(time.RFC3339), Format: "RFC3339"},
	}
	v.Volume.OutlineCircle = &dc.Circle{Center: &dc.LatLng{Lat: dc.Float(47.4), Lng: dc.Float(8.5)}, Radius: &dc.Measure{Value: dc.Float(500), Units: "M"}}
	v.Volume.AltitudeLower = &dc.Altitude{Value: dc.Float(0), Reference: "W84", Units: "M"}
	v.Volume.AltitudeUpper = &dc.Altitude{Value: dc.Float(120), Reference: "W84", Units: "M"}
	vols, err := geo.ParseVolumes([]dc.Volume4D{v}, "volumes")
	if err != nil {
		t.Fatal(err)
	}
	ix := geo.NewIndex()
	ix.Insert("5f0c1e9a-3b7d-4c2e-9a41-0d6b8e2f7c13", "alpha", vols)
	return ix
}

// TestSaveLoad: a file saved from an index loads back into the same
// index, bound to its store: the same file is refused by another store,
// and once changed by a byte, by its own.
func TestSaveLoad(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	path := filepath.Join(t.TempDir(), "d.db.index")
	f := New(path, st, slog.New(slog.DiscardHandler))
	src := &index{ix: oneEntry(t)}
	if err := f.Save(ctx, src); err != nil {
		t.Fatal(err)
	}

	dst := &index{caughtUp: 3}
	n, err := New(path, st, slog.New(slog.DiscardHandler)).Load(ctx, dst)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if n != 3 || dst.loaded == nil || dst.loaded.Len() != 1 || dst.loadedRev != 0 {
		t.Fatalf("loaded %v (rev %d, caught up %d), want the one entry at rev 0, caught up 3", dst.loaded, dst.loadedRev, n)
	}

	other := openStore(t)
	if _, err := New(path, other, slog.New(slog.DiscardHandler)).Load(ctx, &index{}); err == nil || !strings.Contains(err.Error(), "recorded no digest") {
		t.Fatalf("another store loaded the file (err %v), want it left aside for want of a recorded digest", err)
	}

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 1
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(path, st, slog.New(slog.DiscardHandler)).Load(ctx, &index{}); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("a changed file loaded (err %v), want it named damaged", err)
	}
}

// TestSaveSkipsAnUnchangedIndex: a save of the rev the file already holds
// writes nothing.
func TestSaveSkipsAnUnchangedIndex(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "d.db.index")
	f := New(path, openStore(t), slog.New(slog.DiscardHandler))
	if err := f.Save(ctx, &index{ix: oneEntry(t)}); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := f.Save(ctx, &index{ix: oneEntry(t)}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Fatal("the same rev was saved again")
	}
}

// TestDue: a save is due when the interval is up, or when enough events
// were logged since the last save and the gap since it is over.
func TestDue(t *testing.T) {
	f := New("unused", nil, slog.New(slog.DiscardHandler))
	f.saved.Store(100)
	for _, c := range []struct {
		rev                 int64
		intervalUp, gapOver bool
		after               int64
		want                bool
	}{
		{rev: 100, intervalUp: true, want: true},
		{rev: 125, gapOver: true, after: 20, want: true},
		{rev: 125, gapOver: false, after: 20, want: false},
		{rev: 110, gapOver: true, after: 20, want: false},
		{rev: 125, gapOver: true, after: 0, want: false},
	} {
		if got := f.due(&index{rev: c.rev}, c.intervalUp, c.gapOver, c.after); got != c.want {
			t.Errorf("due(rev %d, interval up %v, gap over %v, after %d) = %v, want %v", c.rev, c.intervalUp, c.gapOver, c.after, got, c.want)
		}
	}
	f.saved.Store(-1) // nothing saved yet: only the interval makes it due
	if f.due(&index{rev: 1000}, false, true, 20) {
		t.Error("due by events with no save known")
	}
}
