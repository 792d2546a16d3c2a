package http

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// route is one pattern registered by the server, as found in its source.
type route struct {
	method, path string
	// authenticated is true for routes registered with s.handle, which
	// need a bearer token.
	authenticated bool
	pos           string
}

// unlisted are the catch-all patterns that are not endpoints of their own.
var unlisted = map[string]bool{"/v1/": true, "/": true} // the unknown-endpoint answer and the console

// registeredRoutes parses the package's source files and returns every
// pattern passed to s.handle, s.mux.HandleFunc or s.mux.Handle.
func registeredRoutes(t *testing.T) []route {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var routes []route
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatalf("parse %s: %v", name, err)
		}
		for _, decl := range f.Decls {
			if fn, ok := decl.(*ast.FuncDecl); ok && fn.Recv != nil && fn.Name.Name == "handle" {
				continue // the wrapper that passes its pattern on to the mux
			}
			ast.Inspect(decl, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || len(call.Args) == 0 {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				authenticated := false
				switch sel.Sel.Name {
				case "handle":
					// s.handle(pattern, h)
					if _, ok := sel.X.(*ast.Ident); !ok {
						return true
					}
					authenticated = true
				case "HandleFunc", "Handle":
					// s.mux.HandleFunc(pattern, h), s.mux.Handle(pattern, h)
					if x, ok := sel.X.(*ast.SelectorExpr); !ok || x.Sel.Name != "mux" {
						return true
					}
				default:
					return true
				}
				pos := fset.Position(call.Pos()).String()
				lit, ok := call.Args[0].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Errorf("%s: the pattern passed to %s is not a string literal; this test cannot check it", pos, sel.Sel.Name)
					return true
				}
				pattern, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatalf("%s: %v", pos, err)
				}
				if unlisted[pattern] {
					return true
				}
				method, path, ok := strings.Cut(pattern, " ")
				if !ok || strings.HasPrefix(pattern, "/") {
					t.Errorf("%s: pattern %q has no method; describe it in openapi.json or list it as a catch-all here", pos, pattern)
					return true
				}
				path = strings.TrimSpace(path)
				path = strings.ReplaceAll(path, "...}", "}")
				path = strings.TrimSuffix(path, "{$}")
				routes = append(routes, route{method: strings.ToLower(method), path: path, authenticated: authenticated, pos: pos})
				return true
			})
		}
	}
	return routes
}

// openAPIDoc reads and parses openapi.json.
func openAPIDoc(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("openapi.json is not valid JSON: %v", err)
	}
	return doc
}

// resolve follows a local JSON pointer such as "#/components/schemas/Error".
func resolve(doc map[string]any, ref string) (any, error) {
	if !strings.HasPrefix(ref, "#/components/") {
		return nil, fmt.Errorf("$ref %q is not a local component reference", ref)
	}
	var cur any = doc
	for _, tok := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("$ref %q: %q is not inside an object", ref, tok)
		}
		if cur, ok = m[tok]; !ok {
			return nil, fmt.Errorf("$ref %q: no %q", ref, tok)
		}
	}
	return cur, nil
}

// deref follows v's $ref, if it has one.
func deref(t *testing.T, doc map[string]any, v any) map[string]any {
	t.Helper()
	m, _ := v.(map[string]any)
	for i := 0; i < 10 && m != nil; i++ {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		r, err := resolve(doc, ref)
		if err != nil {
			t.Error(err)
			return nil
		}
		m, _ = r.(map[string]any)
	}
	return m
}

var httpMethods = []string{"get", "put", "post", "delete", "patch", "head", "options", "trace"}

func TestOpenAPIVersion(t *testing.T) {
	doc := openAPIDoc(t)
	v, _ := doc["openapi"].(string)
	if !strings.HasPrefix(v, "3.") {
		t.Errorf("openapi = %q, want 3.x", v)
	}
	if info, _ := doc["info"].(map[string]any); info == nil || info["title"] == nil || info["version"] == nil {
		t.Error("info with title and version is required")
	}
	components, _ := doc["components"].(map[string]any)
	schemes, _ := components["securitySchemes"].(map[string]any)
	if bearer, _ := schemes["bearer"].(map[string]any); bearer == nil || bearer["scheme"] != "bearer" {
		t.Error("components.securitySchemes.bearer (http bearer) is missing")
	}
}

// TestOpenAPICoversRoutes checks that openapi.json describes every route the
// server registers, and nothing else.
func TestOpenAPICoversRoutes(t *testing.T) {
	doc := openAPIDoc(t)
	paths, _ := doc["paths"].(map[string]any)
	routes := registeredRoutes(t)
	if len(routes) == 0 {
		t.Fatal("found no routes in the package source")
	}
	registered := map[string]bool{}
	v1 := 0
	for _, r := range routes {
		key := r.method + " " + r.path
		registered[key] = true
		if strings.HasPrefix(r.path, "/v1/") {
			v1++
		}
		item, _ := paths[r.path].(map[string]any)
		op, _ := item[r.method].(map[string]any)
		if op == nil {
			t.Errorf("%s: %s %s is registered but not in openapi.json", r.pos, strings.ToUpper(r.method), r.path)
			continue
		}
		checkOperation(t, doc, item, op, r)
	}
	if v1 == 0 {
		t.Fatal("found no /v1 routes in the package source")
	}
	var extra []string
	for path, v := range paths {
		item, _ := v.(map[string]any)
		for _, m := range httpMethods {
			if item[m] != nil && !registered[m+" "+path] {
				extra = append(extra, strings.ToUpper(m)+" "+path)
			}
		}
	}
	sort.Strings(extra)
	for _, e := range extra {
		t.Errorf("openapi.json describes %s, which the server does not register", e)
	}
}

// checkOperation checks one described operation against its route.
func checkOperation(t *testing.T, doc, item, op map[string]any, r route) {
	t.Helper()
	name := strings.ToUpper(r.method) + " " + r.path
	// Every path parameter is declared.
	declared := map[string]bool{}
	for _, list := range []any{item["parameters"], op["parameters"]} {
		ps, _ := list.([]any)
		for _, p := range ps {
			if pm := deref(t, doc, p); pm != nil && pm["in"] == "path" {
				name, _ := pm["name"].(string)
				declared[name] = true
			}
		}
	}
	for rest := r.path; ; {
		i := strings.Index(rest, "{")
		if i < 0 {
			break
		}
		j := strings.Index(rest[i:], "}")
		if j < 0 {
			break
		}
		if p := rest[i+1 : i+j]; !declared[p] {
			t.Errorf("%s: path parameter %q is not declared", name, p)
		}
		rest = rest[i+j+1:]
	}
	responses, _ := op["responses"].(map[string]any)
	if len(responses) == 0 {
		t.Errorf("%s: no responses", name)
	}
	sec, hasSec := op["security"].([]any)
	if !r.authenticated {
		if !hasSec || len(sec) != 0 {
			t.Errorf("%s: needs no token, so it should say security: []", name)
		}
		return
	}
	if hasSec && len(sec) == 0 {
		t.Errorf("%s: needs a bearer token but says security: []", name)
	}
	// Every authenticated route can answer these.
	for _, status := range []string{"401", "429", "500"} {
		if responses[status] == nil {
			t.Errorf("%s: response %s is missing", name, status)
		}
	}
	for status, resp := range responses {
		if code, err := strconv.Atoi(status); err == nil && code < 400 {
			continue
		}
		rm := deref(t, doc, resp)
		content, _ := rm["content"].(map[string]any)
		media, _ := content["application/json"].(map[string]any)
		schema, _ := media["schema"].(map[string]any)
		if schema["$ref"] != "#/components/schemas/Error" {
			t.Errorf("%s: response %s is not the Error schema", name, status)
		}
	}
}

// TestOpenAPIRefs checks that every $ref resolves to a defined component.
func TestOpenAPIRefs(t *testing.T) {
	doc := openAPIDoc(t)
	n := 0
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"]; ok {
				n++
				s, ok := ref.(string)
				if !ok {
					t.Errorf("%s: $ref is not a string", path)
				} else if _, err := resolve(doc, s); err != nil {
					t.Errorf("%s: %v", path, err)
				}
			}
			for k, e := range v {
				walk(path+"/"+k, e)
			}
		case []any:
			for i, e := range v {
				walk(path+"/"+strconv.Itoa(i), e)
			}
		}
	}
	walk("#", doc)
	if n == 0 {
		t.Error("no $ref at all; the components are not used")
	}
}

// TestOpenAPIErrorCodes checks that every error code in the Error schema
// is one the server maps to a status.
func TestOpenAPIErrorCodes(t *testing.T) {
	doc := openAPIDoc(t)
	schema, err := resolve(doc, "#/components/schemas/Error")
	if err != nil {
		t.Fatal(err)
	}
	sm, _ := schema.(map[string]any)
	props, _ := sm["properties"].(map[string]any)
	detail, _ := props["error"].(map[string]any)
	props, _ = detail["properties"].(map[string]any)
	code, _ := props["code"].(map[string]any)
	enum, _ := code["enum"].([]any)
	if len(enum) == 0 {
		t.Fatal("Error.error.code has no enum")
	}
	for _, c := range enum {
		if _, ok := statuses[c.(string)]; !ok {
			t.Errorf("error code %q is not one the server answers", c)
		}
	}
}
