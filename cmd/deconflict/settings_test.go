package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
)

// TestSettingsPatchesDoNotLoseUpdates: two admins PUT different settings
// at the same moment, a hundred times; after each round both changes
// stand, and the events credit each admin (by token) with its own field
// only.
func TestSettingsPatchesDoNotLoseUpdates(t *testing.T) {
	s := startServer(t)
	ann, bob := s.token("admin", ""), s.token("admin", "")
	annID := s.do("GET", "/v1/whoami", ann, nil).want(t, 200).body["token_id"]
	bobID := s.do("GET", "/v1/whoami", bob, nil).want(t, 200).body["token_id"]
	after := len(s.do("GET", "/v1/events?limit=10000", ann, nil).want(t, 200).list("events"))
	put := func(token, body string) error {
		req, err := http.NewRequest("PUT", s.base+"/v1/settings", bytes.NewReader([]byte(body)))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("PUT /v1/settings %s: status %d", body, resp.StatusCode)
		}
		return nil
	}
	const rounds = 100
	for i := range rounds {
		h, v := 1000+i, 100+i
		var wg sync.WaitGroup
		errs := make([]error, 2)
		wg.Add(2)
		go func() { defer wg.Done(); errs[0] = put(ann, fmt.Sprintf(`{"horizontal_m": %d}`, h)) }()
		go func() { defer wg.Done(); errs[1] = put(bob, fmt.Sprintf(`{"vertical_m": %d}`, v)) }()
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		got := s.do("GET", "/v1/settings", ann, nil).want(t, 200).body
		if got["horizontal_m"] != float64(h) || got["vertical_m"] != float64(v) {
			t.Fatalf("round %d: settings %v, want horizontal_m %d and vertical_m %d: a change was lost", i, got, h, v)
		}
	}
	evs := s.do("GET", fmt.Sprintf("/v1/events?after=%d&limit=10000", after), ann, nil).want(t, 200).list("events")
	if len(evs) != 2*rounds {
		t.Fatalf("%d events after the patches, want %d", len(evs), 2*rounds)
	}
	for _, raw := range evs {
		b, _ := json.Marshal(raw)
		var e struct {
			Type    string                    `json:"type"`
			Changed map[string]map[string]any `json:"changed"`
			TokenID any                       `json:"token_id"`
		}
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatal(err)
		}
		want := map[any]string{annID: "horizontal_m", bobID: "vertical_m"}[e.TokenID]
		if e.Type != "settings.changed" || want == "" || len(e.Changed) != 1 || e.Changed[want] == nil {
			t.Fatalf("event %s: want a settings.changed by one of the admins naming only its own field", b)
		}
	}
}
