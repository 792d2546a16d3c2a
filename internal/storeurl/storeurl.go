// Package storeurl opens the store a URL names, for the commands that take
// --store: the server and its administration commands, and the load tool.
package storeurl

import (
	"context"
	"fmt"
	"strings"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/postgres"
	"github.com/deconflict/deconflict/sqlite"
)

// Open opens the store url names: sqlite:PATH (also sqlite://PATH) for the
// embedded store, postgres:// or postgresql:// for PostgreSQL.
func Open(ctx context.Context, url string) (dc.Store, error) {
	switch {
	case strings.HasPrefix(url, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(url, "sqlite:"), "//")
		if path == "" {
			return nil, fmt.Errorf("store URL %q names no file (want sqlite:PATH)", url)
		}
		return sqlite.Open(ctx, path)
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return postgres.Open(ctx, url)
	}
	return nil, fmt.Errorf("unknown store URL %q (want sqlite:PATH or postgres://...)", url)
}
