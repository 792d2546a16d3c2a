package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"reflect"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deconflict/deconflict/loadgen"
	jsonv2 "github.com/go-json-experiment/json"
)

// BenchmarkDSSCreateOIR measures creations of operational intent
// references per second over HTTP, each with its key checked, with 1 and
// 8 clients (each its own USS), against a server already holding
// DECONFLICT_BENCH_DSS_LIVE live OIRs (default 10,000; 100,000 for the
// large run). Each client files its OIRs in cells of its own region;
// in a cell each OIR lies on top of the one before (its altitude band
// overlaps it), so every creation's key must carry that OVN, and the
// DSS checks it against the intersecting OIRs it finds in 4D. Clients'
// regions are far apart: their intents do not conflict in the mechanism
// either, as traffic mostly does not.
func BenchmarkDSSCreateOIR(b *testing.B) {
	live := 10000
	if v := os.Getenv("DECONFLICT_BENCH_DSS_LIVE"); v != "" {
		live, _ = strconv.Atoi(v)
	}
	s := startDSSOn(b, testStore(b), nil)
	const regions = 8
	cl := make([]*dssClient, regions)
	for i := range cl {
		cl[i] = &dssClient{s: s, token: s.tok(fmt.Sprintf("bench-uss-%d", i), scSCD), region: i, last: map[int]string{}, level: map[int]int{}}
	}
	// Fill the airspace: every client its share, 8 at a time.
	start := time.Now()
	var wg sync.WaitGroup
	for _, c := range cl {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range live / regions {
				if _, err := c.create(); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if b.Failed() {
		return
	}
	b.Logf("%d live OIRs in %s", live, time.Since(start).Round(time.Millisecond))
	for _, clients := range []int{1, 8} {
		b.Run(fmt.Sprintf("live=%d/clients=%d", live, clients), func(b *testing.B) {
			var next atomic.Int64
			lat := make([][]time.Duration, clients)
			// Only the measured creations, not the fill.
			defer profileCPU(b)()
			b.ResetTimer()
			c0 := loadgen.ScrapeServer(context.Background(), http.DefaultClient, s.base)
			began, cpu0 := time.Now(), cpuTime()
			var wg sync.WaitGroup
			for i := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						d, err := cl[i].create()
						if err != nil {
							b.Error(err)
							return
						}
						lat[i] = append(lat[i], d)
					}
				}()
			}
			wg.Wait()
			el, cpu := time.Since(began), cpuTime()-cpu0
			b.StopTimer()
			// The single writer's group commits: how many creations each
			// took, how much of the time a batch was running, and how
			// long its commit (with the flush to disk) took on average.
			if v := loadgen.ServerViewOf(c0, loadgen.ScrapeServer(context.Background(), http.DefaultClient, s.base), el.Seconds()); v != nil {
				b.ReportMetric(v.WritesPerBatch, "oir/batch")
				b.ReportMetric(100*v.WriterBusy, "writer-busy-%")
				b.ReportMetric(v.CommitMeanMS, "commit-ms")
			}
			var all []time.Duration
			for _, l := range lat {
				all = append(all, l...)
			}
			sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
			if len(all) > 0 {
				b.ReportMetric(float64(len(all))/el.Seconds(), "oir/s")
				b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
				// CPU of the whole process (server and clients) per
				// creation: steadier than the rate on a shared machine.
				b.ReportMetric(float64(cpu.Microseconds())/float64(len(all)), "cpu-us/oir")
			}
		})
	}
}

// dssClient is one USS of the benchmark: it knows the OVN of the last
// OIR it filed in each of its cells.
type dssClient struct {
	s      *dssServer
	token  string
	region int
	n      int
	last   map[int]string // cell -> OVN of its top OIR
	level  map[int]int    // cell -> altitude level of its top OIR
}

var dssBenchClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}

// create files an OIR in the client's next cell, on top of the one
// before it there, with that OIR's OVN in the key.
func (c *dssClient) create() (time.Duration, error) {
	const cells = 2000
	cell := c.n % cells
	c.n++
	// Cells 0.05 degrees apart in a 40x50 grid; regions 20 degrees apart.
	lat := -10 + float64(cell/50)*0.05
	lng := -170 + float64(c.region)*20 + float64(cell%50)*0.05
	lvl := c.level[cell]
	lower := float64(lvl) * 10
	j := benchOIRBody(lat, lng, lower, lower+20, c.last[cell])
	req, err := newRequest("PUT", c.s.base+oirPath+newID(), j, c.token)
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	resp, err := dssBenchClient.Do(req)
	if err != nil {
		return 0, err
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(t0)
	if resp.StatusCode != 201 {
		return 0, fmt.Errorf("create: %d %s", resp.StatusCode, bytes.TrimSpace(raw))
	}
	var out struct {
		Ref struct {
			OVN string `json:"ovn"`
		} `json:"operational_intent_reference"`
	}
	if err := jsonv2.Unmarshal(raw, &out); err != nil {
		return 0, err
	}
	c.last[cell], c.level[cell] = out.Ref.OVN, lvl+1
	return d, nil
}

// benchOIRBody is the body of an Accepted OIR of one circle of 500 m from
// at(1) to at(2), with the OVN in its key unless it is "": what
// oirBody and ext make, written without encoding/json, so that the
// benchmark's clients, which share the machine with the server, take
// little of it.
func benchOIRBody(lat, lng, lower, upper float64, ovn string) []byte {
	num := func(b []byte, f float64) []byte { return strconv.AppendFloat(b, f, 'f', -1, 64) }
	b := make([]byte, 0, 512)
	b = append(b, `{"extents":[{"volume":{"outline_circle":{"center":{"lat":`...)
	b = num(b, lat)
	b = append(b, `,"lng":`...)
	b = num(b, lng)
	b = append(b, `},"radius":{"value":500,"units":"M"}},"altitude_lower":{"value":`...)
	b = num(b, lower)
	b = append(b, `,"reference":"W84","units":"M"},"altitude_upper":{"value":`...)
	b = num(b, upper)
	b = append(b, `,"reference":"W84","units":"M"}},"time_start":{"value":"`...)
	b = at(1).UTC().AppendFormat(b, time.RFC3339)
	b = append(b, `","format":"RFC3339"},"time_end":{"value":"`...)
	b = at(2).UTC().AppendFormat(b, time.RFC3339)
	b = append(b, `","format":"RFC3339"}}],"state":"Accepted","uss_base_url":"https://uss.example/api","key":[`...)
	if ovn != "" {
		b = strconv.AppendQuote(b, ovn)
	}
	return append(b, "]}"...)
}

// TestBenchOIRBody: the benchmark's clients send what oirBody and ext
// make.
func TestBenchOIRBody(t *testing.T) {
	for _, ovn := range []string{"", "0b7f5e9c-3a1d-4f6e-8b2a-9c0d1e2f3a4b"} {
		want := oirBody("Accepted", ext(-9.95, -110.05, 500, 10, 30, at(1), at(2)), nil)
		if ovn != "" {
			want["key"] = []string{ovn}
		}
		var got, w any
		wj, _ := json.Marshal(want)
		if err := json.Unmarshal(wj, &w); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(benchOIRBody(-9.95, -110.05, 10, 30, ovn), &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("benchOIRBody gives %v, want %v", got, w)
		}
	}
}
