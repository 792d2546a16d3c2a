package postgres

import (
	"context"
)

// Meta returns the value kept under name; ENotFound if there is none.
func (t *tx) Meta(ctx context.Context, name string) ([]byte, error) {
	return t.shared().Meta(ctx, name)
}

// PutMeta keeps value under name, in place of any value before.
func (t *tx) PutMeta(ctx context.Context, name string, value []byte) error {
	return t.shared().PutMeta(ctx, name, value)
}
