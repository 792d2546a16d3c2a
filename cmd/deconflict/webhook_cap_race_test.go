package main

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// TestWebhookCapPerPartyConcurrent: PUTs of new webhooks racing on two
// replicas of one store never leave a party with more than 16: the count
// and the insert are in one write transaction, and write transactions are
// serialised across processes (SQLite: BEGIN IMMEDIATE; PostgreSQL: an
// advisory lock taken before the first statement).
func TestWebhookCapPerPartyConcurrent(t *testing.T) {
	a := startServerOn(t, testStore(t))
	b := &testServer{t: t, store: a.store, flags: loopbackFlags}
	b.start()
	head := a.token("head", "bravo")
	const tries = 40
	codes := make(chan int, tries)
	var wg sync.WaitGroup
	for i := range tries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			base := []string{a.base, b.base}[i%2]
			body := strings.NewReader(`{"url":"https://hooks.example.com/x","events":["operation.declared"]}`)
			req, _ := http.NewRequest("PUT", fmt.Sprintf("%s/v1/webhooks/c%02d", base, i), body)
			req.Header.Set("Authorization", "Bearer "+head)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(codes)
	got := map[int]int{}
	for c := range codes {
		got[c]++
	}
	if got[201] != 16 || got[400] != tries-16 {
		t.Errorf("answers %v; want 16 × 201 and %d × 400", got, tries-16)
	}
	if n := len(a.do("GET", "/v1/webhooks", head, nil).want(t, 200).list("webhooks")); n != 16 {
		t.Fatalf("bravo has %d webhooks", n)
	}
}
