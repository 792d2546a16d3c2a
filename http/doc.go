// Package http serves the mechanism over HTTP: the /v1 API of the
// contract, health, readiness, metrics and the OpenAPI description. It
// decodes requests, authenticates the caller, calls package mechanism and
// encodes the answer; it holds no rules of its own. The one table that maps
// error codes to HTTP statuses is in error.go.
package http
