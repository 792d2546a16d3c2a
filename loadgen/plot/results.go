package plot

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/deconflict/deconflict/loadgen"
)

// Results reads deconflict-bench result files and writes the scaling
// curves their index and scale runs give to SVG files in dir; it returns
// the paths written.
func Results(files []string, dir string) ([]string, error) {
	var index []loadgen.IndexRun
	var scale []loadgen.ScaleRun
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var r loadgen.Result
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if r.Mode != "postgis" { // its index run duplicates an index result
			index = append(index, r.Index...)
		}
		scale = append(scale, r.Scale...)
	}
	sort.Slice(index, func(i, j int) bool { return index[i].Operations < index[j].Operations })
	sort.Slice(scale, func(i, j int) bool { return scale[i].Operations < scale[j].Operations })
	var charts []struct {
		name string
		c    Chart
	}
	add := func(name string, c Chart) {
		charts = append(charts, struct {
			name string
			c    Chart
		}{name, c})
	}
	if len(index) > 0 {
		var p50, p90, p99, mem, load []([2]float64)
		for _, r := range index {
			n := float64(r.Operations)
			p50 = append(p50, [2]float64{n, 1000 * r.Latency.P50})
			p90 = append(p90, [2]float64{n, 1000 * r.Latency.P90})
			p99 = append(p99, [2]float64{n, 1000 * r.Latency.P99})
			mem = append(mem, [2]float64{n, r.BytesPerOperation})
			load = append(load, [2]float64{n, r.LoadSeconds})
		}
		add("bench-check-latency.svg", Chart{Title: "One check against N live operations (in process)", XLabel: "live operations",
			YLabel: "latency (µs)", LogX: true, LogY: true,
			Series: []Series{{"p50", p50}, {"p90", p90}, {"p99", p99}}})
		add("bench-memory.svg", Chart{Title: "Heap per live operation (geometry and index)", XLabel: "live operations",
			YLabel: "bytes per operation", LogX: true, Series: []Series{{"bytes/operation", mem}}})
		start := []Series{{"parse + index (in process)", load}}
		if len(scale) > 0 {
			var s []([2]float64)
			for _, r := range scale {
				s = append(s, [2]float64{float64(r.Operations), r.StartSeconds})
			}
			start = append(start, Series{"server start from SQLite", s})
		}
		add("bench-start.svg", Chart{Title: "Time to load the index", XLabel: "live operations", YLabel: "seconds",
			LogX: true, LogY: true, Series: start})
	}
	var declared []loadgen.ScaleRun // runs preloaded directly declare nothing
	for _, r := range scale {
		if r.Declare.Requests > 0 {
			declared = append(declared, r)
		}
	}
	if len(declared) > 0 {
		var rate, p50, p99 []([2]float64)
		for _, r := range declared {
			n := float64(r.Operations)
			rate = append(rate, [2]float64{n, r.Declare.PerSecond})
			p50 = append(p50, [2]float64{n, r.Declare.Latency.P50})
			p99 = append(p99, [2]float64{n, r.Declare.Latency.P99})
		}
		add("bench-declarations.svg", Chart{Title: "Declarations over HTTP with N live operations", XLabel: "live operations",
			YLabel: "declarations per second", LogX: true, Series: []Series{{"declarations/s", rate}}})
		add("bench-declaration-latency.svg", Chart{Title: "Declaration latency over HTTP with N live operations", XLabel: "live operations",
			YLabel: "latency (ms)", LogX: true, Series: []Series{{"p50", p50}, {"p99", p99}}})
	}
	var written []string
	for _, c := range charts {
		path := filepath.Join(dir, c.name)
		f, err := os.Create(path)
		if err != nil {
			return written, err
		}
		err = c.c.WriteSVG(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return written, err
		}
		written = append(written, path)
	}
	return written, nil
}
