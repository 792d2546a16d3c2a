package http

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	dc "github.com/deconflict/deconflict"
)

// TestCheckRoute: what-if checks skip the mux's lookup (ServeHTTP), and
// are answered, counted and refused as the mux would: a check is answered
// under its route, another method or path near it is the mux's answer.
func TestCheckRoute(t *testing.T) {
	ctx := t.Context()
	m := testMechanism(t, "alpha")
	tok, _, err := m.Access().IssueToken(ctx, dc.RoleObserver, "alpha", "")
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(NewServer(m, Options{}))
	defer ts.Close()
	body := `{"volumes":[{"volume":{"outline_circle":{"center":{"lat":33.5,"lng":36.3},"radius":{"value":3000,"units":"M"}},"altitude_lower":{"value":0,"reference":"W84","units":"M"},"altitude_upper":{"value":900,"reference":"W84","units":"M"}},"time_start":{"value":"2030-01-01T10:00:00Z","format":"RFC3339"},"time_end":{"value":"2030-01-01T11:00:00Z","format":"RFC3339"}}]}`
	for _, c := range []struct {
		method, path string
		token        bool
		status       int
		answer       string
	}{
		{"POST", "/v1/check", true, 200, `{"conflicts":[]}`},
		{"POST", "/v1/check", false, 401, `unauthenticated`},
		{"GET", "/v1/check", true, 404, `no endpoint GET /v1/check`},
		{"POST", "/v1/check/", true, 404, ``},
		{"POST", "/v1/%63heck", true, 200, `{"conflicts":[]}`},
		{"POST", "/v1%2Fcheck", true, 404, ``},
	} {
		req, err := http.NewRequestWithContext(ctx, c.method, ts.URL+c.path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if c.token {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || !strings.Contains(string(b), c.answer) {
			t.Errorf("%s %s: %d %q, want %d with %q", c.method, c.path, resp.StatusCode, b, c.status, c.answer)
		}
	}
	resp, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`deconflict_http_requests_total{method="POST",route="POST /v1/check",status="200"} 2`,
		`deconflict_http_requests_total{method="POST",route="POST /v1/check",status="401"} 1`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("the metrics do not count %s:\n%s", want, grepLines(string(metrics), "requests_total"))
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
