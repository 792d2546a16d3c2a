package http

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// documented is an endpoint named in docs/API.md as "METHOD /path".
type documented struct {
	method, path string
	section      int // the number of the "## N." section it is named in
}

var (
	apiSection  = regexp.MustCompile(`^## (\d+)\.`)
	apiEndpoint = regexp.MustCompile("`(GET|PUT|POST|DELETE|PATCH) (/[^` ?]*)")
)

// documentedEndpoints reads every "METHOD /path" that docs/API.md names in
// code spans, with its query string cut off.
func documentedEndpoints(t *testing.T) []documented {
	t.Helper()
	b, err := os.ReadFile("../docs/API.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []documented
	section := 0
	for _, line := range strings.Split(string(b), "\n") {
		if m := apiSection.FindStringSubmatch(line); m != nil {
			section, _ = strconv.Atoi(m[1])
		}
		for _, m := range apiEndpoint.FindAllStringSubmatch(line, -1) {
			out = append(out, documented{method: m[1], path: m[2], section: section})
		}
	}
	return out
}

// TestOpenAPIMatchesAPIDoc: the endpoints docs/API.md (the public
// contract) names and the paths openapi.json describes are the same,
// method by method. The F3548 interface (/dss/, section 12) has its own
// description, and the endpoints of sections 12 and 13 are asked for only
// once openapi.json has them.
func TestOpenAPIMatchesAPIDoc(t *testing.T) {
	paths, _ := openAPIDoc(t)["paths"].(map[string]any)
	docs := documentedEndpoints(t)
	if len(docs) < 30 || len(paths) < 20 {
		t.Fatalf("read %d endpoints from API.md and %d paths from openapi.json; the parsing is off", len(docs), len(paths))
	}
	named := map[string]bool{}
	for _, d := range docs {
		named[d.path] = true
		if strings.HasPrefix(d.path, "/dss/") {
			continue
		}
		item, ok := paths[d.path].(map[string]any)
		pending := d.section == 12 || d.section == 13
		switch {
		case !ok && !pending:
			t.Errorf("API.md section %d names %s %s; openapi.json has no path %s", d.section, d.method, d.path, d.path)
		case ok && item[strings.ToLower(d.method)] == nil:
			t.Errorf("API.md section %d names %s %s; openapi.json describes no %s on it", d.section, d.method, d.path, d.method)
		}
	}
	for p := range paths {
		if !named[p] {
			t.Errorf("openapi.json describes %s, which API.md does not name; document it there", p)
		}
	}
}
