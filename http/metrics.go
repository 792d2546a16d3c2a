package http

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/deconflict/deconflict/mechanism"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the Prometheus metrics of a server.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	// byRequest keeps the counter and histogram of each route, method
	// and status seen (requestKey → *requestMetrics), so that a request
	// does not look its labels up in the vectors; at most
	// maxKeptRequestMetrics of them, since a method that matches no route
	// is the client's word.
	byRequest sync.Map
	kept      atomic.Int32
}

type requestKey struct {
	route, method string
	status        int
}

type requestMetrics struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

// maxKeptRequestMetrics bounds metrics.byRequest.
const maxKeptRequestMetrics = 1000

func newMetrics(m *mechanism.Mechanism) *metrics {
	x := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "deconflict_http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "deconflict_http_request_duration_seconds", Help: "HTTP request latency by route and method.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method"}),
	}
	x.reg.MustRegister(x.requests, x.latency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "deconflict_live_operations", Help: "Planned and active operations in the conflict index.",
		}, func() float64 { return float64(m.Index().LiveOperations()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "deconflict_open_conflicts", Help: "Open conflicts.",
		}, func() float64 { return float64(m.Health().OpenConflicts()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "deconflict_write_batches_total", Help: "Write transactions (group commits) run by this process.",
		}, func() float64 { return float64(m.Health().Stats().Batches.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "deconflict_batched_writes_total", Help: "Changes written in those transactions.",
		}, func() float64 { return float64(m.Health().Stats().BatchedWrites.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "deconflict_write_batch_seconds_total", Help: "Time spent in those transactions, commit included: divided by the elapsed time, how busy the single writer is.",
		}, func() float64 { return time.Duration(m.Health().Stats().BatchNanos.Load()).Seconds() }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "deconflict_conflict_checks_total", Help: "Conflict checks of declarations written, by where their search ran: ahead of the write lock (then brought up to date under it) or in the batch.",
			ConstLabels: prometheus.Labels{"searched": "ahead"},
		}, func() float64 { return float64(m.Health().Stats().ChecksAhead.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "deconflict_conflict_checks_total", Help: "Conflict checks of declarations written, by where their search ran: ahead of the write lock (then brought up to date under it) or in the batch.",
			ConstLabels: prometheus.Labels{"searched": "in_batch"},
		}, func() float64 { return float64(m.Health().Stats().ChecksInBatch.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "deconflict_caught_up_operations_total", Help: "Operations other processes changed that this one read into its conflict index, by where: ahead of the write lock (or for a what-if check) or under it, in a batch.",
			ConstLabels: prometheus.Labels{"where": "ahead"},
		}, func() float64 { return float64(m.Health().Stats().CaughtUpAhead.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "deconflict_caught_up_operations_total", Help: "Operations other processes changed that this one read into its conflict index, by where: ahead of the write lock (or for a what-if check) or under it, in a batch.",
			ConstLabels: prometheus.Labels{"where": "in_batch"},
		}, func() float64 { return float64(m.Health().Stats().CaughtUpInBatch.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "deconflict_forwarding", Help: "1 while this replica hands its declarations to the writer replica (serve --replica-listen), 0 while it writes its own.",
		}, func() float64 {
			if m.Replicas().Forwarding() {
				return 1
			}
			return 0
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "deconflict_forwarded_declarations_total", Help: "Declarations handed between replicas (serve --replica-listen), by outcome: handed to the writer replica and answered; not taken by it and written here; handed over without an answer (the caller told to try again); handed to this replica by others.",
			ConstLabels: prometheus.Labels{"outcome": "answered"},
		}, func() float64 { return float64(m.Health().Stats().ForwardedOut.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "deconflict_forwarded_declarations_total", Help: "Declarations handed between replicas (serve --replica-listen), by outcome: handed to the writer replica and answered; not taken by it and written here; handed over without an answer (the caller told to try again); handed to this replica by others.",
			ConstLabels: prometheus.Labels{"outcome": "written_here"},
		}, func() float64 { return float64(m.Health().Stats().ForwardFallbacks.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "deconflict_forwarded_declarations_total", Help: "Declarations handed between replicas (serve --replica-listen), by outcome: handed to the writer replica and answered; not taken by it and written here; handed over without an answer (the caller told to try again); handed to this replica by others.",
			ConstLabels: prometheus.Labels{"outcome": "unanswered"},
		}, func() float64 { return float64(m.Health().Stats().ForwardFailures.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "deconflict_forwarded_declarations_total", Help: "Declarations handed between replicas (serve --replica-listen), by outcome: handed to the writer replica and answered; not taken by it and written here; handed over without an answer (the caller told to try again); handed to this replica by others.",
			ConstLabels: prometheus.Labels{"outcome": "received"},
		}, func() float64 { return float64(m.Health().Stats().ForwardedIn.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "deconflict_integrity_alarms_total", Help: "Integrity alarms: proofs, checkpoints or bundles that did not verify against the stored log, and writes the store failed because its data is damaged. Any is a page: see docs/OPERATIONS.md.",
		}, func() float64 { return float64(m.Health().IntegrityAlarms()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "deconflict_check_views_total", Help: "Operations listed by what-if checks, by where their encoded view came from: kept in memory or read from the store.",
			ConstLabels: prometheus.Labels{"from": "memory"},
		}, func() float64 { h, _ := m.Health().ViewCacheStats(); return float64(h) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "deconflict_check_views_total", Help: "Operations listed by what-if checks, by where their encoded view came from: kept in memory or read from the store.",
			ConstLabels: prometheus.Labels{"from": "store"},
		}, func() float64 { _, n := m.Health().ViewCacheStats(); return float64(n) }),
		newStoreTimings(m),
	)
	return x
}

// storeTimings exports the store's timings (deconflict.Timed) as
// histograms named deconflict_store_NAME_seconds.
type storeTimings struct {
	m     *mechanism.Mechanism
	descs map[string]*prometheus.Desc
}

func newStoreTimings(m *mechanism.Mechanism) *storeTimings {
	c := &storeTimings{m: m, descs: map[string]*prometheus.Desc{}}
	for _, t := range m.Health().StoreTimings() {
		c.descs[t.Name] = prometheus.NewDesc("deconflict_store_"+t.Name+"_seconds", t.Help, nil, nil)
	}
	return c
}

func (c *storeTimings) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *storeTimings) Collect(ch chan<- prometheus.Metric) {
	for _, t := range c.m.Health().StoreTimings() {
		d, ok := c.descs[t.Name]
		if !ok {
			continue
		}
		buckets := make(map[float64]uint64, len(t.Bounds))
		for i, b := range t.Bounds {
			buckets[b] = t.Counts[i]
		}
		ch <- prometheus.MustNewConstHistogram(d, t.Count, t.Sum, buckets)
	}
}

func (x *metrics) observe(route, method string, status int, elapsed time.Duration) {
	key := requestKey{route: route, method: method, status: status}
	m, ok := x.byRequest.Load(key)
	if !ok {
		rm := &requestMetrics{
			requests: x.requests.WithLabelValues(route, method, strconv.Itoa(status)),
			latency:  x.latency.WithLabelValues(route, method),
		}
		m = rm
		if x.kept.Load() < maxKeptRequestMetrics {
			if _, loaded := x.byRequest.LoadOrStore(key, rm); !loaded {
				x.kept.Add(1)
			}
		}
	}
	rm := m.(*requestMetrics)
	rm.requests.Inc()
	rm.latency.Observe(elapsed.Seconds())
}

func (x *metrics) handler() http.Handler {
	return promhttp.HandlerFor(x.reg, promhttp.HandlerOpts{})
}
