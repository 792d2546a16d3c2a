package forward

import (
	"context"
	"crypto/rand"
	"fmt"

	dc "github.com/deconflict/deconflict"
)

// The names under which the replicas' shared values are kept in the
// store's meta table.
const (
	secretMeta = "forward/secret"
	writerMeta = "forward/writer"
)

// Secret returns the secret the replicas of the store share, making one
// (32 random bytes) if there is none yet. Replicas starting together
// agree on one: its making is a write transaction, which they run one
// after the other.
func Secret(ctx context.Context, st dc.Store) ([]byte, error) {
	var secret []byte
	read := func(tx dc.Tx) error {
		v, err := tx.Meta(ctx, secretMeta)
		if dc.ErrorCode(err) == dc.ENotFound {
			return nil
		}
		secret = v
		return err
	}
	if err := st.View(ctx, read); err != nil {
		return nil, fmt.Errorf("read the replicas' secret: %w", err)
	}
	if secret != nil {
		return secret, nil
	}
	err := st.Update(ctx, func(tx dc.Tx) error {
		if err := read(tx); err != nil || secret != nil {
			return err
		}
		secret = make([]byte, 32)
		_, _ = rand.Read(secret)
		return tx.PutMeta(ctx, secretMeta, secret)
	})
	if err != nil {
		return nil, fmt.Errorf("make the replicas' secret: %w", err)
	}
	return secret, nil
}

// Publish records url as the writer's: the replica that took the writer
// lease calls it before it takes declarations.
func Publish(ctx context.Context, st dc.Store, url string) error {
	err := st.Update(ctx, func(tx dc.Tx) error { return tx.PutMeta(ctx, writerMeta, []byte(url)) })
	if err != nil {
		return fmt.Errorf("publish the writer's URL: %w", err)
	}
	return nil
}

// Writer returns the URL of the replica that last took the writer lease;
// "" if none ever did.
func Writer(ctx context.Context, st dc.Store) (string, error) {
	var url string
	err := st.View(ctx, func(tx dc.Tx) error {
		v, err := tx.Meta(ctx, writerMeta)
		if dc.ErrorCode(err) == dc.ENotFound {
			return nil
		}
		url = string(v)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("read the writer's URL: %w", err)
	}
	return url, nil
}
