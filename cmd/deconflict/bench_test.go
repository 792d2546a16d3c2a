package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// spreadDeclaration returns a declaration somewhere over a wide region
// (the eastern Mediterranean and beyond), over a week, so that conflicts
// are the exception as in real traffic.
func spreadDeclaration(rng *rand.Rand) map[string]any {
	lat, lng := 25+rng.Float64()*20, 25+rng.Float64()*25
	lower := float64(rng.IntN(12)) * 1000
	start := at(1 + rng.Float64()*24*7)
	end := start.Add(time.Duration(10+rng.IntN(240)) * time.Minute)
	return decl("planned", circle(lat, lng, 1000+rng.Float64()*20000, lower, lower+300+rng.Float64()*1500, start, end))
}

// BenchmarkDeclareHTTP measures declarations per second over HTTP with 8
// concurrent clients against a server on the embedded store, and reports
// latency percentiles.
func BenchmarkDeclareHTTP(b *testing.B) {
	benchDeclare(b, startServerB(b))
}

// BenchmarkDeclareHTTPWebhooks is BenchmarkDeclareHTTP with 10 webhook
// subscribers of bravo receiving every declaration at a loopback receiver.
func BenchmarkDeclareHTTPWebhooks(b *testing.B) {
	s := startServerB(b)
	var received atomic.Int64
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		received.Add(1)
	}))
	defer rcv.Close()
	head := s.token("head", "bravo")
	for i := 0; i < 10; i++ {
		s.do("PUT", fmt.Sprintf("/v1/webhooks/hook-%d", i), head, map[string]any{"url": rcv.URL, "events": []string{"operation.declared"}})
	}
	benchDeclare(b, s)
	b.ReportMetric(float64(received.Load())/float64(b.N), "deliveries/decl-at-end")
}

func benchDeclare(b *testing.B, s *testServer) {
	tokens := []string{s.token("operator", "alpha"), s.token("operator", "bravo")}
	rng := rand.New(rand.NewPCG(1, 2))
	bodies := make([][]byte, b.N)
	for i := range bodies {
		bodies[i], _ = json.Marshal(spreadDeclaration(rng))
	}
	var (
		next   atomic.Int64
		mu     sync.Mutex
		lat    []time.Duration
		wg     sync.WaitGroup
		failed atomic.Int64
	)
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for {
				i := int(next.Add(1) - 1)
				if i >= b.N {
					break
				}
				req, _ := newRequest("PUT", s.base+"/v1/operations/"+newID(), bodies[i], tokens[i%2])
				t0 := time.Now()
				resp, err := httpClient.Do(req)
				if err != nil || resp.StatusCode != 201 {
					failed.Add(1)
				}
				if resp != nil {
					resp.Body.Close()
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if failed.Load() > 0 {
		b.Fatalf("%d declarations failed", failed.Load())
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "decl/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// BenchmarkStreamFanout measures events per second delivered to 100 open
// streams: alpha declares b.N operations, and the clock stops when every
// one of bravo's 100 streams has received all of them.
func BenchmarkStreamFanout(b *testing.B) {
	s := startServerB(b)
	op, li := s.token("operator", "alpha"), s.token("liaison", "bravo")
	const streams = 100
	var wg sync.WaitGroup
	var got atomic.Int64
	ready := make(chan struct{}, streams)
	for i := 0; i < streams; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", s.base+"/v1/events", nil)
			req.Header.Set("Authorization", "Bearer "+li)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			defer resp.Body.Close()
			ready <- struct{}{}
			dec := bufioScanner(resp.Body)
			n := 0
			for dec.Scan() {
				if line := dec.Text(); len(line) > 6 && line[:6] == "event:" && line == "event: operation.declared" {
					n++
					got.Add(1)
					if n == b.N {
						return
					}
				}
			}
		}()
	}
	for i := 0; i < streams; i++ {
		<-ready
	}
	rng := rand.New(rand.NewPCG(3, 4))
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		raw, _ := json.Marshal(spreadDeclaration(rng))
		req, _ := newRequest("PUT", s.base+"/v1/operations/"+newID(), raw, op)
		resp, err := httpClient.Do(req)
		if err != nil || resp.StatusCode != 201 {
			b.Fatalf("declare: %v", err)
		}
		resp.Body.Close()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.ReportMetric(float64(got.Load())/elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
}

func bufioScanner(r io.Reader) *bufio.Scanner {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	return sc
}
