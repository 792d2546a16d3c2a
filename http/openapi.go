package http

import (
	_ "embed"
	"net/http"
)

//go:embed openapi.json
var openAPI []byte

// serveOpenAPI answers the OpenAPI 3 description of /v1.
func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPI)
}
