package snapshot

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"path/filepath"
	"runtime"
	"sync"

	dc "github.com/deconflict/deconflict"
)

// An index snapshot file sits in the data folder, where anyone who can
// write it could also change a party or an operation inside and fix the
// CRC-32C: the next start would then miss conflicts. So each save records
// the file's digest in the store (Tx.PutMeta, under snapshotMetaName),
// and a start uses a snapshot only if its digest is the one its store
// recorded. A forged file, or a file of another store, is left aside and
// the index is loaded from the store. Changing the snapshot then takes
// write access to the store itself, where the truth is anyway.
//
// The digest is SHA-256 over the SHA-256 of each digestPiece bytes of
// the file (and its length), so a start hashes the file on every core:
// SHA-256 runs at about 1 GB/s a core, and a snapshot at a million live
// operations is hundreds of megabytes.

// digestPiece is the size of the pieces of a snapshot file hashed apart.
const digestPiece = 32 << 20

// digestMagic starts what the digest hashes, naming the construction.
var digestMagic = []byte("deconflict index snapshot digest v1\n")

// snapshotMetaName is the name under which the store keeps the digest of
// the snapshot file at path. Files of other names (another replica's, on
// a shared PostgreSQL store) have digests of their own.
func snapshotMetaName(path string) string {
	return "index_snapshot/" + filepath.Base(path)
}

// fileDigest returns the digest of a whole snapshot file, hashing its
// pieces on every core.
func fileDigest(data []byte) [32]byte {
	n := (len(data) + digestPiece - 1) / digestPiece
	sums := make([][32]byte, n)
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	for range min(n, runtime.GOMAXPROCS(0)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				sums[i] = sha256.Sum256(data[i*digestPiece : min(len(data), (i+1)*digestPiece)])
			}
		}()
	}
	wg.Wait()
	return digestOf(int64(len(data)), sums)
}

func digestOf(size int64, sums [][32]byte) [32]byte {
	h := sha256.New()
	h.Write(digestMagic)
	binary.Write(h, binary.LittleEndian, size)
	for _, s := range sums {
		h.Write(s[:])
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// digestWriter computes fileDigest of what is written to it, as it is
// written.
type digestWriter struct {
	piece hash.Hash
	inPc  int
	size  int64
	sums  [][32]byte
}

func newDigestWriter() *digestWriter { return &digestWriter{piece: sha256.New()} }

func (d *digestWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		k := min(len(p), digestPiece-d.inPc)
		d.piece.Write(p[:k])
		d.inPc += k
		d.size += int64(k)
		p = p[k:]
		if d.inPc == digestPiece {
			d.endPiece()
		}
	}
	return n, nil
}

func (d *digestWriter) endPiece() {
	var s [32]byte
	d.piece.Sum(s[:0])
	d.sums = append(d.sums, s)
	d.piece.Reset()
	d.inPc = 0
}

// Sum returns the digest of everything written.
func (d *digestWriter) Sum() [32]byte {
	if d.inPc > 0 {
		d.endPiece()
	}
	return digestOf(d.size, d.sums)
}

// recordDigest keeps the digest of the snapshot about to be put in place
// in the store.
func (f *File) recordDigest(ctx context.Context, sum [32]byte) error {
	return f.store.Update(ctx, func(tx dc.Tx) error {
		return tx.PutMeta(ctx, snapshotMetaName(f.path), sum[:])
	})
}

// recordedDigest returns the digest the store recorded for the snapshot
// file, or why there is none to compare with.
func (f *File) recordedDigest(ctx context.Context, tx dc.Tx) ([]byte, error) {
	want, err := tx.Meta(ctx, snapshotMetaName(f.path))
	if dc.ErrorCode(err) == dc.ENotFound {
		return nil, fmt.Errorf("the store recorded no digest of a snapshot named %s: it is from another store, or was written by an older version", filepath.Base(f.path))
	}
	return want, err
}

// errDigestMismatch is why a snapshot whose digest is not the recorded
// one is left aside.
var errDigestMismatch = errors.New("its SHA-256 digest is not the one the store recorded when it was written: it was changed since, or it is from another store")

// startDigest starts computing fileDigest(data) and returns the function
// that waits for it (and may be called again).
func startDigest(data []byte) func() [32]byte {
	c := make(chan [32]byte, 1)
	go func() { c <- fileDigest(data) }()
	return sync.OnceValue(func() [32]byte { return <-c })
}
