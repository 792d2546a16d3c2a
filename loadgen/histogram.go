package loadgen

import (
	"slices"
	"time"
)

// Histogram keeps every latency it is given, so that its percentiles are
// exact. A million samples take 8 MB. It is not safe for concurrent use:
// give each client its own and Merge them.
type Histogram struct {
	samples []time.Duration
	sorted  bool
}

// Record adds one latency.
func (h *Histogram) Record(d time.Duration) {
	h.samples = append(h.samples, d)
	h.sorted = false
}

// Merge adds every latency of o.
func (h *Histogram) Merge(o *Histogram) {
	h.samples = append(h.samples, o.samples...)
	h.sorted = false
}

// Count returns the number of latencies recorded.
func (h *Histogram) Count() int { return len(h.samples) }

// Percentile returns the p-th percentile (0 < p <= 100) by the
// nearest-rank method: the smallest recorded latency such that at least p
// per cent of the latencies are no larger. It returns 0 when empty.
func (h *Histogram) Percentile(p float64) time.Duration {
	if len(h.samples) == 0 {
		return 0
	}
	if !h.sorted {
		slices.Sort(h.samples)
		h.sorted = true
	}
	rank := int(ceil(p / 100 * float64(len(h.samples))))
	rank = max(1, min(rank, len(h.samples)))
	return h.samples[rank-1]
}

// ceil is math.Ceil that forgives the rounding of p/100*n: 0.29*100 is
// 28.999999999999996, which is rank 29.
func ceil(x float64) float64 {
	r := float64(int64(x))
	if x-r > 1e-9 {
		return r + 1
	}
	return r
}

// Max returns the largest latency recorded.
func (h *Histogram) Max() time.Duration { return h.Percentile(100) }

// Mean returns the mean latency.
func (h *Histogram) Mean() time.Duration {
	if len(h.samples) == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range h.samples {
		sum += d
	}
	return sum / time.Duration(len(h.samples))
}

// Latency is the summary of a Histogram, in milliseconds, as the result
// file gives it.
type Latency struct {
	Count int     `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

// Summary returns the summary of h.
func (h *Histogram) Summary() Latency {
	ms := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }
	return Latency{
		Count: h.Count(),
		Mean:  ms(h.Mean()),
		P50:   ms(h.Percentile(50)),
		P90:   ms(h.Percentile(90)),
		P99:   ms(h.Percentile(99)),
		Max:   ms(h.Max()),
	}
}
