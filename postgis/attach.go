package postgis

import (
	"context"
	"fmt"
)

// Attach connects to url and works on the volumes an earlier Load left in
// schema, so that several connections can answer checks at once (one
// connection answers one query at a time).
func Attach(ctx context.Context, url, schema string) (*DB, error) {
	db, err := Open(ctx, url, schema)
	if err != nil {
		return nil, err
	}
	if err := db.conn.QueryRow(ctx, "SELECT coalesce(max(r), 0) FROM vols").Scan(&db.maxR); err != nil {
		db.conn.Close(ctx)
		return nil, fmt.Errorf("postgis: attach: %w", err)
	}
	return db, nil
}
