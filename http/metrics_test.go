package http

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/deconflict/deconflict/mechanism"
	"github.com/deconflict/deconflict/sqlite"
)

// TestMetricsCountEveryRequest checks that requests are counted by route,
// method and status, those whose counters are kept and those past the
// bound on kept ones (methods a client makes up) alike.
func TestMetricsCountEveryRequest(t *testing.T) {
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	x := newMetrics(mechanism.New(st, mechanism.Options{}))
	for range 3 {
		x.observe("POST /v1/check", "POST", 200, time.Millisecond)
	}
	x.observe("POST /v1/check", "POST", 400, time.Millisecond)
	for i := range maxKeptRequestMetrics + 50 {
		x.observe("unmatched", fmt.Sprintf("M%d", i), 404, time.Millisecond)
		x.observe("unmatched", fmt.Sprintf("M%d", i), 404, time.Millisecond)
	}
	families, err := x.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counted := map[string]float64{} // by "route method status"
	latencies := 0
	for _, f := range families {
		for _, m := range f.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			switch f.GetName() {
			case "deconflict_http_requests_total":
				counted[l["route"]+" "+l["method"]+" "+l["status"]] = m.GetCounter().GetValue()
			case "deconflict_http_request_duration_seconds":
				latencies++
			}
		}
	}
	for key, want := range map[string]float64{
		"POST /v1/check POST 200": 3,
		"POST /v1/check POST 400": 1,
		"unmatched M0 404":        2,
		fmt.Sprintf("unmatched M%d 404", maxKeptRequestMetrics+49): 2,
	} {
		if got := counted[key]; got != want {
			t.Errorf("%s: %v requests counted, want %v", key, got, want)
		}
	}
	// One latency series for each route and method.
	if want := 1 + maxKeptRequestMetrics + 50; latencies != want {
		t.Errorf("%d latency series, want %d", latencies, want)
	}
}
