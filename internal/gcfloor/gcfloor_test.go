package gcfloor

import (
	"os"
	"runtime"
	"testing"
	"time"
)

func TestPercentFor(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		live, floor uint64
		want        int
	}{
		{10 * mib, 256 * mib, 2460}, {128 * mib, 256 * mib, 100}, {1 << 30, 256 * mib, 100},
		{0, 256 * mib, 10000}, {20 * mib, 40 * mib, 100}, {19 * mib, 40 * mib, 110},
	} {
		if got := percentFor(c.live, c.floor); got != c.want {
			t.Errorf("percentFor(%d, %d) = %d, want %d", c.live, c.floor, got, c.want)
		}
	}
}

// garbage is where allocate keeps its last piece, so that the compiler
// keeps the allocations.
var garbage []byte

// cycles allocates n bytes of garbage in pieces of 64 KiB with a small
// live heap, and returns the collection cycles that ran meanwhile.
func cycles(n int) uint32 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < n/(64<<10); i++ {
		garbage = make([]byte, 64<<10)
	}
	runtime.ReadMemStats(&after)
	return after.NumGC - before.NumGC
}

// TestSetSpacesCycles: with a floor of 256 MiB, allocating 128 MiB of
// garbage with a small live heap runs at most a cycle or two, where the
// runtime's default runs one every few MiB.
func TestSetSpacesCycles(t *testing.T) {
	if _, ok := os.LookupEnv("GOGC"); ok {
		t.Skip("GOGC is set")
	}
	if _, ok := os.LookupEnv("GOMEMLIMIT"); ok {
		t.Skip("GOMEMLIMIT is set")
	}
	runtime.GC()
	without := cycles(128 << 20)
	if !Set(256 << 20) {
		t.Fatal("Set did nothing")
	}
	// The floor takes effect once a cycle has run and the tuner after it.
	for i := 0; adjusted.Load() == 0 && i < 1000; i++ {
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	if adjusted.Load() == 0 {
		t.Fatal("no adjustment after 1,000 cycles")
	}
	with := cycles(128 << 20)
	t.Logf("128 MiB of garbage: %d cycles without a floor, %d with", without, with)
	if without < 8 {
		t.Skipf("only %d cycles without a floor: the heap is too large here to tell", without)
	}
	if with > 2 {
		t.Errorf("%d cycles with a floor of 256 MiB, want at most 2", with)
	}
	if Set(1 << 20) {
		t.Error("a second Set did something")
	}
}
