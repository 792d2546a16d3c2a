package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	dc "github.com/deconflict/deconflict"
)

// Load is the outcome of a closed-loop load: Clients workers, each
// sending its next request as soon as the last one was answered, for a
// fixed time.
type Load struct {
	Name     string `json:"name"`
	Clients  int    `json:"clients"`
	Requests int    `json:"requests"`
	Errors   int    `json:"errors"`
	// FirstError describes the first failed request, if any.
	FirstError string  `json:"first_error,omitempty"`
	Seconds    float64 `json:"seconds"`
	PerSecond  float64 `json:"per_second"`
	Latency    Latency `json:"latency"`
	// ConflictsPerCheck is the mean number of conflicts an answer listed
	// (of a read, the mean number of items).
	ConflictsPerCheck float64 `json:"conflicts_per_check"`
	// BytesPerAnswer is the mean size of an answer's body, if known.
	BytesPerAnswer float64 `json:"bytes_per_answer,omitempty"`
	// ServerCPUPerRequestUS is the server process's CPU time (user and
	// system) during the load divided by the requests, in microseconds,
	// if known.
	ServerCPUPerRequestUS float64 `json:"server_cpu_us_per_request,omitempty"`
}

// Request is one request of a load: worker is the number of the client
// sending it (0 to Clients-1), i the request's number (0, 1, ... across
// all clients). It returns the number of conflicts the answer listed and
// the answer's size in bytes.
type Request func(ctx context.Context, worker, i int) (conflicts, size int, err error)

// RunFor runs do from clients concurrent workers for d and measures it.
// A request still under way at the end is cancelled and not counted,
// except each worker's first: it is waited for, so that a load of
// requests slower than d (a cold database on a busy machine) measures
// one request a worker rather than none.
func RunFor(ctx context.Context, name string, clients int, d time.Duration, do Request) Load {
	end := time.Now().Add(d)
	parent := ctx
	ctx, cancel := context.WithDeadline(ctx, end)
	defer cancel()
	var (
		mu                     sync.Mutex
		hist                   Histogram
		wg                     sync.WaitGroup
		next                   int
		requests, errs, listed int
		bytes                  int64
		first                  string
	)
	start := time.Now()
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var h Histogram
			var n, e, l int
			var b int64
			var f string
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				rctx := ctx
				if n == 0 {
					rctx = parent
				}
				t0 := time.Now()
				c, size, err := do(rctx, w, i)
				elapsed := time.Since(t0)
				if n > 0 && (ctx.Err() != nil || !time.Now().Before(end)) {
					break // cut short by the end of the run: not counted
				}
				if parent.Err() != nil {
					break
				}
				h.Record(elapsed)
				n++
				if err != nil {
					e++
					if f == "" {
						f = err.Error()
					}
					continue
				}
				l += c
				b += int64(size)
				if !time.Now().Before(end) {
					break
				}
			}
			mu.Lock()
			defer mu.Unlock()
			hist.Merge(&h)
			requests += n
			errs += e
			listed += l
			bytes += b
			if first == "" {
				first = f
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	out := Load{Name: name, Clients: clients, Requests: requests, Errors: errs, FirstError: first,
		Seconds: elapsed, PerSecond: float64(requests) / elapsed, Latency: hist.Summary()}
	if ok := requests - errs; ok > 0 {
		out.ConflictsPerCheck = float64(listed) / float64(ok)
		out.BytesPerAnswer = float64(bytes) / float64(ok)
	}
	return out
}

// HTTPChecks returns the Request that sends query i%len(bodies) as a
// what-if check (POST /v1/check) to server with token, each worker over
// its own keep-alive connection. bodies are the encoded check bodies
// (CheckBodies), made once so that the load costs the client little.
func HTTPChecks(server, token string, clients int, bodies [][]byte) Request {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = clients
	client := &http.Client{Transport: t, Timeout: 60 * time.Second}
	sep := []byte(`"separation":`)
	bufs := make([]bytes.Buffer, clients)
	return func(ctx context.Context, worker, i int) (int, int, error) {
		req, err := http.NewRequestWithContext(ctx, "POST", server+"/v1/check", bytes.NewReader(bodies[i%len(bodies)]))
		if err != nil {
			return 0, 0, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return 0, 0, err
		}
		defer resp.Body.Close()
		buf := &bufs[worker]
		buf.Reset()
		if _, err := buf.ReadFrom(resp.Body); err != nil {
			return 0, 0, err
		}
		if resp.StatusCode != http.StatusOK {
			return 0, 0, fmt.Errorf("POST /v1/check: %d %s", resp.StatusCode, bytes.TrimSpace(buf.Bytes()))
		}
		// Every listed conflict has one "separation" member, and an
		// operation as another party sees it has no free text that could
		// hold that key: counting them counts the conflicts without
		// decoding the answer on the client's share of the CPU.
		return bytes.Count(buf.Bytes(), sep), buf.Len(), nil
	}
}

// CheckBodies encodes each query as the body of a what-if check.
func CheckBodies(queries []Operation) ([][]byte, error) {
	out := make([][]byte, len(queries))
	for i := range queries {
		b, err := json.Marshal(map[string]any{"volumes": queries[i].Volumes})
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

// CircleChecks returns n what-if checks in the airspace of the scenario
// s: each a circle of 1 to 30 km radius (log-uniform), one hour long,
// with a 1 km altitude band. A fraction near of them is placed where
// traffic is (centred on a random operation's first volume, overlapping
// its window and band), the rest anywhere in the scenario's box, at any
// time of its week. The same s, n, seed and near give the same checks.
func (s *Scenario) CircleChecks(n int, seed uint64, near float64) []Operation {
	r := rand.New(rand.NewPCG(seed, seed^0xc1dc1e))
	scale := math.Sqrt(max(float64(len(s.Operations)), baseOperations) / baseOperations)
	halfLat, halfLng := min(baseHalfLat*scale, 85), min(baseHalfLng*scale, 180)
	out := make([]Operation, n)
	for i := range out {
		lat := centreLat + halfLat*(2*r.Float64()-1)
		lng := wrapLng(centreLng + halfLng*(2*r.Float64()-1))
		start := s.Config.Start.Add(time.Duration(r.Int64N(int64(7 * 24 * time.Hour)))).Truncate(time.Second)
		lower := math.Round(11000 * r.Float64())
		if len(s.Operations) > 0 && r.Float64() < near {
			v := &s.Operations[r.IntN(len(s.Operations))].Volumes[0]
			if ci := v.Volume.OutlineCircle; ci != nil {
				lat, lng = *ci.Center.Lat, *ci.Center.Lng
			} else {
				lat, lng = ringCentre(v.Volume.OutlinePolygon).degrees()
			}
			t0, _ := time.Parse(time.RFC3339, v.TimeStart.Value)
			start = t0.Add(-30 * time.Minute)
			lower = math.Max(0, *v.Volume.AltitudeLower.Value-500)
		}
		radius := math.Round(math.Exp(math.Log(1000) + r.Float64()*math.Log(30)))
		v3 := dc.Volume3D{OutlineCircle: &dc.Circle{
			Center: &dc.LatLng{Lat: dc.Float(lat), Lng: dc.Float(lng)},
			Radius: &dc.Measure{Value: dc.Float(radius), Units: "M"},
		}}
		out[i] = Operation{Party: QueryParty, Volumes: []dc.Volume4D{wireVolume(v3, lower, lower+1000, start, start.Add(time.Hour))}}
	}
	return out
}
