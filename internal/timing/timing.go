// Package timing keeps histograms of durations for the stores'
// deconflict.Timing reports: lock-free to observe, read whole for a scrape.
package timing

import (
	"sync/atomic"
	"time"

	"github.com/deconflict/deconflict"
)

var bounds = [...]float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5}

// Bounds are the upper bounds of a histogram's buckets, in seconds: from
// half a millisecond (a flush on a fast disk) to 2.5 s (a stall).
var Bounds = bounds[:]

// Histogram counts durations into Bounds. The zero value is empty and
// ready; it is safe for concurrent use.
type Histogram struct {
	counts [len(bounds) + 1]atomic.Uint64 // per bucket, the last past every bound
	nanos  atomic.Int64
}

// Observe counts one duration.
func (h *Histogram) Observe(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(Bounds) && s > Bounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.nanos.Add(int64(d))
}

// Timing returns what h counted so far, cumulative, named name.
func (h *Histogram) Timing(name, help string) deconflict.Timing {
	t := deconflict.Timing{Name: name, Help: help, Bounds: Bounds, Counts: make([]uint64, len(Bounds))}
	for i := range h.counts {
		t.Count += h.counts[i].Load()
		if i < len(Bounds) {
			t.Counts[i] = t.Count
		}
	}
	t.Sum = time.Duration(h.nanos.Load()).Seconds()
	return t
}
