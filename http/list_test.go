package http

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/google/uuid"
)

// bigDeclaration is a declaration of about 3 MB of JSON: seven polygons
// of 10,000 vertices.
func bigDeclaration(start time.Time) []byte {
	var vs []map[string]float64
	for i := range 10000 {
		a := 2 * math.Pi * float64(i) / 10000
		vs = append(vs, map[string]float64{"lat": 0.5 * math.Sin(a), "lng": 0.5 * math.Cos(a)})
	}
	var vols []any
	for v := range 7 {
		vols = append(vols, map[string]any{
			"volume": map[string]any{
				"outline_polygon": map[string]any{"vertices": vs},
				"altitude_lower":  map[string]any{"value": 1000 * v, "reference": "W84", "units": "M"},
				"altitude_upper":  map[string]any{"value": 1000*v + 500, "reference": "W84", "units": "M"},
			},
			"time_start": map[string]any{"value": start.Format(time.RFC3339), "format": "RFC3339"},
			"time_end":   map[string]any{"value": start.Add(time.Hour).Format(time.RFC3339), "format": "RFC3339"},
		})
	}
	b, _ := json.Marshal(map[string]any{"state": "planned", "volumes": vols})
	return b
}

// A client that asks for a large page and stops reading gives its turn
// back once the page's write deadline passes: with one turn server-wide,
// another client's list is then answered.
func TestStalledListClientGivesItsTurnBack(t *testing.T) {
	ctx := t.Context()
	m := testMechanism(t, "alpha")
	tok, _, err := m.Access().IssueToken(ctx, dc.RoleOperator, "alpha", "")
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(NewServer(m, Options{MaxListsAtOnce: 1, ListWriteTimeout: 500 * time.Millisecond}))
	defer ts.Close()
	do := func(method, path string, body []byte) (int, []byte) {
		req, _ := http.NewRequest(method, ts.URL+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return 0, nil
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp.StatusCode, b.Bytes()
	}
	body := bigDeclaration(time.Now().Add(time.Hour).UTC().Truncate(time.Second))
	for range 3 {
		if code, raw := do("PUT", "/v1/operations/"+uuid.NewString(), body); code != 201 {
			t.Fatalf("declare: %d %.200s", code, raw)
		}
	}

	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(conn, "GET /v1/operations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", tok)
	time.Sleep(300 * time.Millisecond) // it holds the one turn, its 6 MB page stuck

	done := make(chan int, 1)
	go func() {
		code, _ := do("GET", "/v1/conflicts", nil)
		done <- code
	}()
	select {
	case code := <-done:
		if code != 200 {
			t.Fatalf("list: %d", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a client that stopped reading kept the only turn")
	}
	// The connection is usable again after a list: its deadline is lifted.
	time.Sleep(600 * time.Millisecond)
	if code, _ := do("GET", "/v1/conflicts", nil); code != 200 {
		t.Fatalf("list after the deadline: %d", code)
	}
}
