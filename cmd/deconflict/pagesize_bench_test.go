package main

import (
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkLargePageFlood lists 14 operations of about 1.3 MB each (18 MB
// of JSON) with 12 clients at once, each following next to the last page,
// and reports the server process's peak Go heap in use during the flood
// and its peak resident set (VmHWM, which also counts the declarations
// made before). The server runs in this process, so both are the
// server's (plus the clients' reading, which discards the bodies).
//
//	go test -run '^$' -bench LargePageFlood -benchtime 3x ./cmd/deconflict
func BenchmarkLargePageFlood(b *testing.B) {
	s := startServerB(b)
	largeOperations(b, s, 14)
	obs := s.token("observer", "bravo")
	runtime.GC()

	var peak uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	const clients = 12
	pages := 0
	var mu sync.Mutex
	b.ResetTimer()
	for range b.N {
		var wg sync.WaitGroup
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n := listAll(b, s.base+"/v1/operations?limit=30", obs)
				mu.Lock()
				pages += n
				mu.Unlock()
			}()
		}
		wg.Wait()
	}
	b.StopTimer()
	close(stop)
	<-sampled
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(vmHWM())/(1<<10), "peak-rss-MB")
	b.ReportMetric(float64(pages)/float64(b.N*clients), "pages/list")
}

// listAll follows next from the first page of list to the last, and
// returns how many pages it read.
func listAll(b *testing.B, list, token string) int {
	after := ""
	for n := 1; ; n++ {
		u := list
		if after != "" {
			u += "&after=" + url.QueryEscape(after)
		}
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Error(err)
			return n
		}
		// Read the body as a stream; only the tail holds "next".
		var tail []byte
		buf := make([]byte, 64<<10)
		for {
			k, err := resp.Body.Read(buf)
			tail = append(tail, buf[:k]...)
			if len(tail) > 1024 {
				tail = tail[len(tail)-1024:]
			}
			if err == io.EOF {
				break
			} else if err != nil {
				b.Error(err)
				break
			}
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Errorf("status %d", resp.StatusCode)
			return n
		}
		_, rest, ok := strings.Cut(string(tail), `"next":"`)
		if !ok {
			return n
		}
		after, _, _ = strings.Cut(rest, `"`)
	}
}

// vmHWM returns the peak resident set of this process in KiB.
func vmHWM() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}
