package main

import (
	"context"
	"strings"
	"testing"
	"time"

	dchttp "github.com/deconflict/deconflict/http"
)

func TestDescribeEvent(t *testing.T) {
	for _, tc := range []struct{ typ, data, want string }{
		{"notice.short", `{"seq":5,"type":"notice.short","time":"2026-11-25T12:00:00Z","actor":{"party":"azure","role":"operator"},"operation":"op-1","party":"azure","lead_time_s":1790,"notice_s":3600}`,
			"operation op-1 with 29m50s notice"},
		{"operation.declared", `{"seq":3,"type":"operation.declared","time":"2026-11-25T12:00:00Z","actor":{"party":"azure","role":"operator"},"operation":{"id":"op-1","party":"azure","version":2,"state":"active","callsign":"AZURE 11"}}`,
			"operation op-1 AZURE 11 of azure, v2, active"},
		{"conflict.opened", `{"seq":7,"type":"conflict.opened","time":"2026-11-25T12:00:00Z","actor":{"party":"olive","role":"operator"},"conflict":{"id":"c-1","status":"open","parties":["azure","olive"],"separation":{"horizontal_m":0,"vertical_m":-2000,"time_s":-3600}}}`,
			"conflict c-1 open: azure × olive (h 0 m, v -2000 m, t -3600 s)"},
	} {
		got := describeEvent(dchttp.StreamEvent{Seq: 1, Type: tc.typ, Data: []byte(tc.data)})
		if !strings.Contains(got, tc.want) || !strings.Contains(got, tc.typ) {
			t.Errorf("describeEvent(%s) = %q, want it to contain %q", tc.typ, got, tc.want)
		}
	}
}

// TestWatchFollowsTheStream runs 'deconflict watch' against the server and
// sees a declaration arrive as a readable line.
func TestWatchFollowsTheStream(t *testing.T) {
	s := startServer(t)
	op, li := s.token("operator", "alpha"), s.token("liaison", "bravo")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out := &syncBuffer{}
	m := &Main{Stdout: out, Stderr: out, Getenv: func(k string) string {
		return map[string]string{"DECONFLICT_SERVER": s.base, "DECONFLICT_TOKEN": li}[k]
	}}
	done := make(chan int, 1)
	go func() { done <- m.Run(ctx, []string{"watch"}) }()
	body := decl("planned", circle(5, 5, 1000, 0, 100, at(3), at(4)))
	body["callsign"], body["share_callsign"] = "HAWK 7", true
	s.do("PUT", "/v1/operations/"+newID(), op, body).want(t, 201)
	waitFor(t, 5*time.Second, "the watch line", func() bool { return strings.Contains(out.String(), "HAWK 7 of alpha, v1, planned") })
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("watch exited %d: %s", code, out.String())
	}
}
