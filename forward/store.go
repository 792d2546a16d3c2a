package forward

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"time"

	dc "github.com/deconflict/deconflict"
)

// The names under which the replicas' shared values are kept in the
// store's meta table. The writer's URL is kept under a name that replicas
// speaking the channel in plain HTTP do not read; they read theirs under
// plainWriterMeta, which a TLS writer empties (see Publish). No replica
// is pointed at a writer it cannot talk to; each writes its own
// declarations instead.
const (
	secretMeta      = "forward/secret"
	certMeta        = "forward/tls"
	writerMeta      = "forward/writer-tls"
	plainWriterMeta = "forward/writer"
)

// secretSize is the size of the secret Secret makes, and the least it
// takes from the store.
const secretSize = 32

// Secret returns the secret the replicas of the store share, making one
// (secretSize random bytes) if there is none yet. A shorter one kept (a
// row emptied or cut by hand) is an error: it would sign with a key
// anyone could guess.
func Secret(ctx context.Context, st dc.Store) ([]byte, error) {
	secret, err := shared(ctx, st, secretMeta, func() ([]byte, error) {
		b := make([]byte, secretSize)
		_, _ = rand.Read(b)
		return b, nil
	})
	if err != nil {
		return nil, fmt.Errorf("the replicas' secret: %w", err)
	}
	if len(secret) < secretSize {
		return nil, fmt.Errorf("the replicas' secret (meta %s): %d bytes, want at least %d (delete the row and restart the replicas to make another)", secretMeta, len(secret), secretSize)
	}
	return secret, nil
}

// Certificate returns the key pair and self-signed certificate the
// replicas of the store serve the channel with and trust alone, making
// them if there are none yet. The private key is kept beside the secret,
// and trusted as much: whoever reads the database runs the deployment
// anyway.
func Certificate(ctx context.Context, st dc.Store) (tls.Certificate, error) {
	v, err := shared(ctx, st, certMeta, func() ([]byte, error) { return newCertificate(time.Now()) })
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("the replicas' certificate: %w", err)
	}
	cert, err := parseCertificate(v)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("the replicas' certificate (meta %s): %w", certMeta, err)
	}
	return cert, nil
}

// shared returns the value kept under name, making it with create and
// keeping it if there is none yet. Replicas starting together agree on
// one: the making is a write transaction that reads first, and write
// transactions run one after the other; the value of whichever commits
// first is the one every replica returns.
func shared(ctx context.Context, st dc.Store, name string, create func() ([]byte, error)) ([]byte, error) {
	var v []byte
	read := func(tx dc.Tx) error {
		b, err := tx.Meta(ctx, name)
		if dc.ErrorCode(err) == dc.ENotFound {
			return nil
		}
		v = b
		return err
	}
	if err := st.View(ctx, read); err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if v != nil {
		return v, nil
	}
	err := st.Update(ctx, func(tx dc.Tx) error {
		v = nil // Update may run this again
		if err := read(tx); err != nil || v != nil {
			return err
		}
		b, err := create()
		if err != nil {
			return err
		}
		v = b
		return tx.PutMeta(ctx, name, b)
	})
	if err != nil {
		return nil, fmt.Errorf("make: %w", err)
	}
	return v, nil
}

// Publish records url as the writer's: the replica that took the writer
// lease calls it before it takes declarations. In the same transaction it
// empties the URL that replicas of the plain-HTTP version read (they read
// "" as no writer, and write their own): left as it was, it names the
// last of them that held the lease, whose address, once that replica is
// upgraded, serves TLS, and they would send their declarations there in
// the clear, be cut off, and answer their callers 503.
func Publish(ctx context.Context, st dc.Store, url string) error {
	err := st.Update(ctx, func(tx dc.Tx) error {
		plain, err := tx.Meta(ctx, plainWriterMeta)
		switch {
		case err != nil && dc.ErrorCode(err) != dc.ENotFound:
			return err
		case len(plain) > 0:
			if err := tx.PutMeta(ctx, plainWriterMeta, []byte{}); err != nil {
				return err
			}
		}
		return tx.PutMeta(ctx, writerMeta, []byte(url))
	})
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
