package console

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed all:dist
var dist embed.FS

// notBuilt is the page served when the console was not built.
const notBuilt = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>deconflict</title></head>
<body><h1>deconflict</h1>
<p>The console is not built: run <code>scripts/build-console</code>, then build the binary again.</p>
<p>The API is at <code>/v1/</code>; <a href="/openapi.json">/openapi.json</a> describes it.</p>
</body></html>
`

// NotBuiltMessage is what the server logs, once, when the console assets
// are missing from the binary.
const NotBuiltMessage = "the console is not built: run scripts/build-console"

// securityHeaders are set on every console response: a strict
// Content-Security-Policy (no inline scripts or styles, nothing from
// another origin), no MIME sniffing, no framing, no referrer.
var securityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
	"X-Content-Type-Options": "nosniff",
	"X-Frame-Options":        "DENY",
	"Referrer-Policy":        "no-referrer",
}

// Built reports whether the binary holds the built console.
func Built() bool { return built(dist) }

func built(fsys fs.FS) bool {
	_, err := fs.Stat(fsys, "dist/index.html")
	return err == nil
}

// Handler returns the handler that serves the console at "/".
func Handler() http.Handler { return handler(dist) }

func handler(fsys fs.FS) http.Handler {
	sub, err := fs.Sub(fsys, "dist")
	if err != nil {
		panic(err) // dist is a literal directory name
	}
	ok := built(fsys)
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for k, v := range securityHeaders {
			h.Set(k, v)
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if !ok {
			h.Set("Content-Type", "text/html; charset=utf-8")
			h.Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusServiceUnavailable)
			if r.Method != http.MethodHead {
				_, _ = w.Write([]byte(notBuilt))
			}
			return
		}
		p := path.Clean("/" + r.URL.Path)
		switch {
		case p == "/" || p == "/index.html":
			// The page names hashed assets; it must be fetched anew.
			h.Set("Cache-Control", "no-cache")
			r2 := r.Clone(r.Context())
			r2.URL.Path = "/"
			files.ServeHTTP(w, r2)
			return
		case p == "/README" || strings.HasSuffix(r.URL.Path, "/"):
			http.NotFound(w, r) // no directory listings
			return
		case isHashed(p):
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		default:
			h.Set("Cache-Control", "no-cache")
		}
		files.ServeHTTP(w, r)
	})
}

// isHashed reports whether a file name carries a content hash
// (app-ABCD1234.js), so that it may be cached for good.
func isHashed(p string) bool {
	base := path.Base(p)
	name := strings.TrimSuffix(base, path.Ext(base))
	i := strings.LastIndexByte(name, '-')
	if i < 0 || len(name)-i-1 < 8 {
		return false
	}
	for _, c := range name[i+1:] {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
