package main

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"testing"
)

// maxPage is the size past which a page ends early (contract 2.2).
const maxPage = 4 << 20

// largeOperations declares n operations of party alpha of about 1.3 MB of
// JSON each (four polygons of 10,000 vertices), and returns their IDs.
func largeOperations(t testing.TB, s *testServer, n int) []string {
	t.Helper()
	op := s.token("operator", "alpha")
	ring := make([][2]float64, 10000)
	for i := range ring {
		a := 2 * math.Pi * float64(i) / float64(len(ring))
		ring[i] = [2]float64{0.5 * math.Sin(a), 0.5 * math.Cos(a)}
	}
	var ids []string
	for i := range n {
		var vols []map[string]any
		for v := range 4 {
			vols = append(vols, polygon(ring, float64(1000*v), float64(1000*v+500), at(float64(i+1)), at(float64(i+2))))
		}
		id := newID()
		if r := s.do("PUT", "/v1/operations/"+id, op, decl("planned", vols...)); r.status != 201 {
			t.Fatalf("declare: %d %s", r.status, r.raw)
		}
		ids = append(ids, id)
	}
	return ids
}

// A page of operations ends once its JSON passes 4 MiB, with at least
// one item and a next cursor; following next lists every operation
// exactly once. Events and log entries end early the same way.
func TestLargePagesEndEarly(t *testing.T) {
	s := startServer(t)
	ids := largeOperations(t, s, 7)
	obs := s.token("observer", "bravo")

	var listed []string
	seen := map[string]bool{}
	after, pages := "", 0
	for {
		path := "/v1/operations"
		if after != "" {
			path += "?after=" + url.QueryEscape(after)
		}
		r := s.do("GET", path, obs, nil).want(t, 200)
		pages++
		items := r.list("operations")
		if len(items) == 0 {
			t.Fatalf("page %d is empty", pages)
		}
		next, _ := r.body["next"].(string)
		if next != "" {
			if len(r.raw) <= maxPage {
				t.Errorf("page %d of %d bytes ends early, before passing %d", pages, len(r.raw), maxPage)
			}
			last, _ := json.Marshal(items[len(items)-1])
			if len(r.raw)-len(last) > maxPage+64<<10 {
				t.Errorf("page %d of %d bytes went on past %d", pages, len(r.raw), maxPage)
			}
		}
		for _, it := range items {
			id := it.(map[string]any)["id"].(string)
			if seen[id] {
				t.Fatalf("operation %s listed twice", id)
			}
			seen[id] = true
			listed = append(listed, id)
		}
		if next == "" {
			break
		}
		after = next
	}
	if pages < 2 || len(listed) != len(ids) {
		t.Fatalf("%d operations in %d pages, want %d in more than one", len(listed), pages, len(ids))
	}

	// Events: a page ends early too, and the next starts after its last.
	var lastSeq float64
	declared := 0
	pages = 0
	for {
		r := s.do("GET", fmt.Sprintf("/v1/events?after=%d&limit=1000", int64(lastSeq)), obs, nil).want(t, 200)
		evs := r.list("events")
		if len(evs) == 0 {
			break
		}
		pages++
		if len(r.raw) > 2*maxPage {
			t.Errorf("an events page of %d bytes", len(r.raw))
		}
		for _, e := range evs {
			ev := e.(map[string]any)
			if seq := ev["seq"].(float64); seq != lastSeq+1 {
				t.Fatalf("event %v after %v", seq, lastSeq)
			}
			lastSeq = ev["seq"].(float64)
			if ev["type"] == "operation.declared" {
				declared++
			}
		}
	}
	if pages < 2 || declared != len(ids) {
		t.Fatalf("%d declarations in %d pages of events, want %d in more than one", declared, pages, len(ids))
	}

	// Log entries: fewer than asked, and the rest from where they ended.
	n := int(lastSeq)
	for start, pages := 0, 0; start < n; pages++ {
		r := s.do("GET", fmt.Sprintf("/v1/log/entries?start=%d&end=%d", start, n), obs, nil).want(t, 200)
		ents := r.list("entries")
		if len(ents) == 0 {
			t.Fatalf("no entries from %d of %d", start, n)
		}
		if pages == 0 && len(ents) == n {
			t.Fatalf("all %d entries (%d bytes) in one answer", n, len(r.raw))
		}
		for _, e := range ents {
			if idx := int(e.(map[string]any)["index"].(float64)); idx != start {
				t.Fatalf("entry %d where %d was due", idx, start)
			}
			start++
		}
	}
}
