package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	dchttp "github.com/deconflict/deconflict/http"
	"github.com/deconflict/deconflict/loadgen/plot"
)

// What the failover tests (failover_test.go) use to start replicas, drive
// them and watch them.

// startLogged starts a replica in process on store, keeping its log;
// flags are added to serve's.
func startLogged(t *testing.T, store string, flags ...string) (*testServer, *syncBuffer) {
	log := &syncBuffer{}
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--store", store, "--rate-limit", "0"}, append(loopbackFlags, flags...)...)
	addr, stop := serveInProcess(t, args, io.Discard, log)
	s := &testServer{t: t, store: store, base: "http://" + addr}
	t.Cleanup(func() {
		if code := stop(); code != 0 {
			t.Errorf("server exited with %d", code)
		}
	})
	return s, log
}

// put declares an operation and returns the status, the Retry-After
// header and the body; err if the replica could not be reached.
func put(base, id, token string, body map[string]any) (int, string, []byte, error) {
	raw, _ := json.Marshal(body)
	req, _ := newRequest("PUT", base+"/v1/operations/"+id, raw, token)
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After"), b, nil
}

// answerPairs returns the operation pairs of the conflicts in a
// declaration's answer.
func answerPairs(body []byte) [][2]string {
	var ans struct {
		Conflicts []struct {
			Operations [2]string `json:"operations"`
		} `json:"conflicts"`
	}
	_ = json.Unmarshal(body, &ans)
	var out [][2]string
	for _, c := range ans.Conflicts {
		k := []string{c.Operations[0], c.Operations[1]}
		sort.Strings(k)
		out = append(out, [2]string{k[0], k[1]})
	}
	return out
}

// storedOperations lists every operation stored, by ID, as the observer
// with the token obs reads them from s.
func storedOperations(t *testing.T, s *testServer, obs string) map[string]declared {
	stored := map[string]declared{}
	cursor := ""
	for {
		page := s.do("GET", "/v1/operations?limit=500&after="+cursor, obs, nil).want(t, 200)
		for _, o := range page.list("operations") {
			m := o.(map[string]any)
			stored[m["id"].(string)] = declared{m["party"].(string), map[string]any{"volumes": m["volumes"]}}
		}
		more, _ := page.body["next"].(string)
		if more == "" {
			return stored
		}
		cursor = more
	}
}

// allSeqs returns the seqs of every event, in order.
func allSeqs(t *testing.T, s *testServer, token string) []int64 { return eventsOf(t, s, token, "") }

// eventsOf returns the seqs of every event of type typ ("" for all).
func eventsOf(t *testing.T, s *testServer, token, typ string) []int64 {
	var out []int64
	var after int64
	for {
		evs := s.do("GET", fmt.Sprintf("/v1/events?after=%d&limit=1000", after), token, nil).want(t, 200).list("events")
		if len(evs) == 0 {
			return out
		}
		for _, e := range evs {
			m := e.(map[string]any)
			after = int64(m["seq"].(float64))
			if typ == "" || m["type"] == typ {
				out = append(out, after)
			}
		}
	}
}

// resumingStream follows a replica's event stream from the start, and
// when it breaks, resumes it with Last-Event-ID, as a client should.
type resumingStream struct {
	mu    sync.Mutex
	seqs  []int64
	again int
}

func followStream(t *testing.T, s *testServer, token string) *resumingStream {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	rs := &resumingStream{}
	c := &dchttp.Client{BaseURL: s.base, Token: token}
	go func() {
		var last int64
		for ctx.Err() == nil {
			err := c.Stream(ctx, last, func(ev dchttp.StreamEvent) error {
				rs.mu.Lock()
				rs.seqs = append(rs.seqs, ev.Seq)
				rs.mu.Unlock()
				last = ev.Seq
				return nil
			})
			if ctx.Err() != nil || errors.Is(err, context.Canceled) {
				return
			}
			rs.mu.Lock()
			rs.again++
			rs.mu.Unlock()
			time.Sleep(100 * time.Millisecond)
		}
	}()
	return rs
}

// until waits for the stream to hear seq and returns what it heard.
func (rs *resumingStream) until(t *testing.T, seq int64, within time.Duration) []int64 {
	waitFor(t, within, fmt.Sprintf("the stream to reach seq %d", seq), func() bool {
		rs.mu.Lock()
		defer rs.mu.Unlock()
		return len(rs.seqs) > 0 && rs.seqs[len(rs.seqs)-1] >= seq
	})
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]int64(nil), rs.seqs...)
}

func (rs *resumingStream) reconnects() int {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.again
}

// readyWatch polls /readyz of every replica every 100 ms.
type readyWatch struct {
	stopc chan struct{}
	done  sync.WaitGroup
	seen  []readySeen
}

// readySeen is what one replica's /readyz answered, and when.
type readySeen struct {
	at     []time.Duration
	status []int
}

// notReadyAfter reports whether /readyz answered 503 after t, and 200
// after that.
func (r readySeen) notReadyAfter(t time.Duration) bool {
	down := false
	for i, at := range r.at {
		switch {
		case at > t && r.status[i] == 503:
			down = true
		case down && r.status[i] == 200:
			return true
		}
	}
	return false
}

func watchReady(rs []*testServer, began time.Time) *readyWatch {
	w := &readyWatch{stopc: make(chan struct{}), seen: make([]readySeen, len(rs))}
	for i, r := range rs {
		w.done.Add(1)
		go func() {
			defer w.done.Done()
			for {
				select {
				case <-w.stopc:
					return
				case <-time.After(100 * time.Millisecond):
				}
				status := 0
				if resp, err := httpClient.Get(r.base + "/readyz"); err == nil {
					status = resp.StatusCode
					resp.Body.Close()
				}
				w.seen[i].at = append(w.seen[i].at, time.Since(began))
				w.seen[i].status = append(w.seen[i].status, status)
			}
		}()
	}
	return w
}

func (w *readyWatch) stop() []readySeen {
	close(w.stopc)
	w.done.Wait()
	return w.seen
}

// logRate logs declarations acknowledged per 500 ms, the kill marked,
// and returns them as points (seconds after the kill, declarations/s).
func logRate(t *testing.T, outcomes []outcome, killed time.Duration) [][2]float64 {
	const step = 500 * time.Millisecond
	var buckets []int
	for _, o := range outcomes {
		if o.status != 201 {
			continue
		}
		b := int(o.at / step)
		for len(buckets) <= b {
			buckets = append(buckets, 0)
		}
		buckets[b]++
	}
	if len(buckets) > 1 {
		buckets = buckets[:len(buckets)-1] // the load stopped in its midst
	}
	var line strings.Builder
	var points [][2]float64
	for i, n := range buckets {
		mark := ""
		if time.Duration(i)*step <= killed && killed < time.Duration(i+1)*step {
			mark = "*"
		}
		rate := float64(n) * float64(time.Second/step)
		fmt.Fprintf(&line, " %.0f%s", rate, mark)
		points = append(points, [2]float64{(time.Duration(i)*step - killed).Seconds(), rate})
	}
	t.Logf("declarations/s every %s (* the kill):%s", step, line.String())
	return points
}

// writeFailoverPlot draws the rates of both failovers, if
// $DECONFLICT_PGHA_PLOT names an SVG file to write (docs/bench-failover.svg).
func writeFailoverPlot(t *testing.T, series []plot.Series) {
	path := os.Getenv("DECONFLICT_PGHA_PLOT")
	if path == "" {
		return
	}
	c := &plot.Chart{Title: "Declarations acknowledged across a failover (3 replicas)", XLabel: "seconds after the primary is taken away",
		YLabel: "declarations/s", Series: series}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := c.WriteSVG(f); err != nil {
		t.Fatal(err)
	}
}
