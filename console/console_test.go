package console

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"testing/fstest"
)

func get(t *testing.T, h http.Handler, method, path string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Result()
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestNotBuilt(t *testing.T) {
	h := handler(fstest.MapFS{"dist/README": {Data: []byte("placeholder")}})
	r := get(t, h, "GET", "/")
	if r.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("status = %d, want 503", r.StatusCode)
	}
	if b := body(t, r); !strings.Contains(b, "run <code>scripts/build-console</code>") {
		t.Errorf("the page does not say how to build the console: %s", b)
	}
	if got := r.Header.Get("Content-Security-Policy"); !strings.HasPrefix(got, "default-src 'self'") {
		t.Errorf("Content-Security-Policy = %q", got)
	}
}

func TestServe(t *testing.T) {
	h := handler(fstest.MapFS{
		"dist/README":                 {Data: []byte("placeholder")},
		"dist/index.html":             {Data: []byte("<!doctype html><title>deconflict</title>")},
		"dist/app-ABCDEFGH.js":        {Data: []byte("export {};")},
		"dist/images/layers-X1Y2.png": {Data: []byte("png")},
	})
	for _, tc := range []struct {
		method, path string
		status       int
		cache, ctype string
	}{
		{"GET", "/", 200, "no-cache", "text/html"},
		{"GET", "/index.html", 200, "no-cache", "text/html"},
		{"HEAD", "/", 200, "no-cache", "text/html"},
		{"GET", "/app-ABCDEFGH.js", 200, "immutable", "javascript"},
		{"GET", "/README", 404, "", ""},
		{"GET", "/images/", 404, "", ""},
		{"GET", "/nothing.js", 404, "", ""},
		{"POST", "/", 405, "", ""},
	} {
		r := get(t, h, tc.method, tc.path)
		if r.StatusCode != tc.status {
			t.Errorf("%s %s: status %d, want %d", tc.method, tc.path, r.StatusCode, tc.status)
			continue
		}
		if !strings.Contains(r.Header.Get("Cache-Control"), tc.cache) {
			t.Errorf("%s %s: Cache-Control %q, want %q", tc.method, tc.path, r.Header.Get("Cache-Control"), tc.cache)
		}
		if !strings.Contains(r.Header.Get("Content-Type"), tc.ctype) {
			t.Errorf("%s %s: Content-Type %q, want %q", tc.method, tc.path, r.Header.Get("Content-Type"), tc.ctype)
		}
		csp := r.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
			t.Errorf("%s %s: Content-Security-Policy %q", tc.method, tc.path, csp)
		}
		if r.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s %s: no X-Content-Type-Options: nosniff", tc.method, tc.path)
		}
	}
}

func TestIsHashed(t *testing.T) {
	for p, want := range map[string]bool{
		"/app-D4UWTLAO.js":                   true,
		"/countries-04342cdc1e.json":         true,
		"/images/layers-2x-ABCD1234.png":     true,
		"/index.html":                        false,
		"/world-atlas.LICENSE.txt":           false,
		"/app-short.js":                      false,
		"/app-D4UWTLAO.js.LEGAL.txt":         false,
		"/images/marker-icon-2x-X.Y.png":     false,
		"/style-XDQZ4GWE.css":                true,
		"/a-b-c-d-e-f-g-h-i-j-k-l-m-n-o-p":   false,
		"/images/marker-shadow-Q5Z0KK4Y.png": true,
	} {
		if got := isHashed(p); got != want {
			t.Errorf("isHashed(%q) = %v, want %v", p, got, want)
		}
	}
}

// TestWeb runs the console's JavaScript unit tests (geometry, event
// stream parser) with node's built-in test runner.
func TestWeb(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("node is needed for the console's unit tests")
		}
		t.Skip("node is not installed: the console's JavaScript unit tests are skipped")
	}
	cmd := exec.Command(node, "--test", "test/")
	cmd.Dir = "../web"
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test: %v\n%s", err, out)
	}
}
