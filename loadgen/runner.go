package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Runner sends a scenario to a running server over the HTTP API with
// Clients concurrent clients, each with its own keep-alive connection.
type Runner struct {
	// Server is the base URL, such as http://127.0.0.1:8080.
	Server string
	// Tokens are operator tokens by party; each operation is declared
	// with its party's token, and checks use them in turn.
	Tokens map[string]string
	// Clients is the number of concurrent clients (default 8).
	Clients int
	// Progress, if set, receives the progress display (see Progress);
	// ProgressEvery is the interval of its plain lines (default 5 s).
	Progress      io.Writer
	ProgressEvery time.Duration
	// HTTP is the client to use (default: one with a connection pool
	// sized to Clients and a 60 s timeout).
	HTTP *http.Client
}

// Phase is the outcome of one kind of request over a whole scenario.
type Phase struct {
	Name     string         `json:"name"`
	Requests int            `json:"requests"`
	Errors   int            `json:"errors"`
	Status   map[string]int `json:"status"`
	// FirstError describes the first failed request, if any.
	FirstError string  `json:"first_error,omitempty"`
	Seconds    float64 `json:"seconds"`
	PerSecond  float64 `json:"per_second"`
	Latency    Latency `json:"latency"`
	// WithConflicts is the number of answers that listed a conflict.
	WithConflicts int `json:"with_conflicts"`
	// ConflictsListed is the number of conflicts the answers listed.
	ConflictsListed int `json:"conflicts_listed"`
	// Server is what the server's /metrics said about the phase, if it
	// could be read and the phase wrote.
	Server *ServerView `json:"server,omitempty"`
}

// declaration is the body of PUT /v1/operations/{id}.
type declaration struct {
	State   string `json:"state"`
	Volumes any    `json:"volumes"`
}

// Declare declares every operation (as planned) with its party's token
// and measures each PUT /v1/operations/{id}.
func (r *Runner) Declare(ctx context.Context, ops []Operation) (Phase, error) {
	for _, op := range ops {
		if r.Tokens[op.Party] == "" {
			return Phase{}, fmt.Errorf("no token for party %q", op.Party)
		}
	}
	return r.run(ctx, "declare", len(ops), func(i int) (*http.Request, error) {
		body, err := json.Marshal(declaration{State: "planned", Volumes: ops[i].Volumes})
		if err != nil {
			return nil, err
		}
		return r.request(ctx, "PUT", "/v1/operations/"+ops[i].ID, body, r.Tokens[ops[i].Party])
	}, http.StatusCreated, http.StatusOK)
}

// Check sends each query as a what-if check (POST /v1/check), with the
// parties' tokens in turn.
func (r *Runner) Check(ctx context.Context, queries []Operation, parties []string) (Phase, error) {
	if len(parties) == 0 {
		return Phase{}, fmt.Errorf("no party to check as")
	}
	return r.run(ctx, "check", len(queries), func(i int) (*http.Request, error) {
		body, err := json.Marshal(map[string]any{"volumes": queries[i].Volumes})
		if err != nil {
			return nil, err
		}
		return r.request(ctx, "POST", "/v1/check", body, r.Tokens[parties[i%len(parties)]])
	}, http.StatusOK)
}

func (r *Runner) request(ctx context.Context, method, path string, body []byte, token string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, r.Server+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	return req, nil
}

func (r *Runner) client() *http.Client {
	if r.HTTP != nil {
		return r.HTTP
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = r.clients()
	return &http.Client{Transport: t, Timeout: 60 * time.Second}
}

func (r *Runner) clients() int {
	if r.Clients <= 0 {
		return 8
	}
	return r.Clients
}

// answer is what the runner reads of an answer.
type answer struct {
	Conflicts []json.RawMessage `json:"conflicts"`
}

// run sends n requests made by build with the runner's clients; an answer
// with another status than ok counts as an error.
func (r *Runner) run(ctx context.Context, name string, n int, build func(int) (*http.Request, error), ok ...int) (Phase, error) {
	every := r.ProgressEvery
	if every <= 0 {
		every = 5 * time.Second
	}
	prog := StartProgress(r.Progress, name, n, every)
	client := r.client()
	var (
		next  atomic.Int64
		mu    sync.Mutex
		phase = Phase{Name: name, Requests: n, Status: map[string]int{}}
		hist  Histogram
		wg    sync.WaitGroup
		fatal error
	)
	before := r.scrape(ctx)
	start := time.Now()
	for range r.clients() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var h Histogram
			status := map[string]int{}
			var errs, withConflicts, listed int
			var first string
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					break
				}
				req, err := build(i)
				if err != nil {
					mu.Lock()
					fatal = err
					mu.Unlock()
					return
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				var raw []byte
				if err == nil {
					raw, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				h.Record(time.Since(t0))
				failed := 0
				switch {
				case err != nil:
					status["transport"]++
					failed = 1
					if first == "" {
						first = err.Error()
					}
				case !contains(ok, resp.StatusCode):
					status[strconv.Itoa(resp.StatusCode)]++
					failed = 1
					if first == "" {
						first = fmt.Sprintf("%s %s: %d %s", req.Method, req.URL.Path, resp.StatusCode, bytes.TrimSpace(raw))
					}
				default:
					status[strconv.Itoa(resp.StatusCode)]++
					var a answer
					if json.Unmarshal(raw, &a) == nil && len(a.Conflicts) > 0 {
						withConflicts++
						listed += len(a.Conflicts)
					}
				}
				errs += failed
				prog.Add(1, failed)
			}
			mu.Lock()
			defer mu.Unlock()
			hist.Merge(&h)
			for k, v := range status {
				phase.Status[k] += v
			}
			phase.Errors += errs
			phase.WithConflicts += withConflicts
			phase.ConflictsListed += listed
			if phase.FirstError == "" {
				phase.FirstError = first
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	prog.Done()
	if fatal != nil {
		return phase, fatal
	}
	if err := ctx.Err(); err != nil {
		return phase, err
	}
	phase.Seconds = elapsed.Seconds()
	phase.PerSecond = float64(n) / elapsed.Seconds()
	phase.Latency = hist.Summary()
	phase.Server = ServerViewOf(before, r.scrape(ctx), elapsed.Seconds())
	return phase, nil
}

func contains(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
