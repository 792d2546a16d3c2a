// Package snapshot keeps a snapshot of the mechanism's index of live
// operations in a file, so that a restart can skip reading and re-filing
// every live operation.
//
// Save writes the index as it is held (geo's snapshot) with the size of
// the log it reflects and the log's root hash at that size; Load reads it
// back when the store's log, cut at that size, has the same root hash —
// the same history, not just the same length — and then has the
// operations changed since applied, as a catch-up would. A snapshot that
// is missing, damaged, from another store or version, ahead of the store
// (a restored backup), or not the file whose digest the store recorded
// when it was saved (digest.go) is left aside: the index is loaded from
// the store as without one. A snapshot is never needed for correctness,
// only for speed.
//
// The package knows the index and the store only through small
// interfaces (Index, Target, Store): what the index is and how it is kept
// up to date is the mechanism's.
//
//	[8]byte  indexFileMagic
//	int64    log size (the rev of the index)
//	[32]byte the log's root hash at that size
//	         geo.Index.WriteSnapshot
//	uint32   CRC-32C of all that comes before
package snapshot

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/geo"
	"github.com/deconflict/deconflict/record"
	"golang.org/x/mod/sumdb/tlog"
)

var indexFileMagic = [8]byte{'d', 'c', 'f', 'i', 'd', 'x', 0, 1}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Store is what a snapshot file needs of the store it is bound to: read
// transactions to check a file against the log, and a write to record
// the digest of a file saved.
type Store interface {
	View(ctx context.Context, fn func(dc.Tx) error) error
	Update(ctx context.Context, fn func(dc.Tx) error) error
}

// Index is the index a snapshot is saved from.
type Index interface {
	// Rev returns the size of the log the index reflects.
	Rev() int64
	// Freeze returns a copy of the index (geo.Index.Freeze) and the size
	// of the log it reflects, or why it cannot be saved now. Writes wait
	// while it runs, and only then.
	Freeze() (*geo.Frozen, int64, error)
}

// Target is the index a snapshot is loaded into. Both methods run inside
// the read transaction that checked the file against the store.
type Target interface {
	// CatchUp applies to ix, read from a snapshot of a log rev entries
	// long, the operations changed since, and returns how many there were.
	CatchUp(ctx context.Context, tx dc.Tx, ix *geo.Index, rev int64) (int, error)
	// Use puts ix, which now reflects a log last entries long, in place.
	Use(ctx context.Context, tx dc.Tx, ix *geo.Index, last int64) error
}

// File is the index snapshot file at a path, bound to one store.
type File struct {
	path  string
	store Store
	log   *slog.Logger
	mu    sync.Mutex   // one file written at a time
	saved atomic.Int64 // the rev the file holds; -1 unknown
}

// New returns the snapshot file at path, bound to store.
func New(path string, store Store, log *slog.Logger) *File {
	f := &File{path: path, store: store, log: log}
	f.saved.Store(-1)
	return f
}

// Path returns the file's path.
func (f *File) Path() string { return f.path }

// Save writes ix to the file, replacing the last one atomically, unless
// the file already holds it. Writes to the index wait only while it is
// copied (Index.Freeze), not while it is written out and synced, which
// takes many times longer.
func (f *File) Save(ctx context.Context, index Index) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if index.Rev() == f.saved.Load() {
		return nil // the file already holds this index
	}
	start := time.Now()
	// What a process killed while saving left behind.
	if stale, err := filepath.Glob(f.path + ".tmp*"); err == nil {
		for _, name := range stale {
			os.Remove(name)
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(f.path), filepath.Base(f.path)+".tmp*")
	if err != nil {
		return fmt.Errorf("save index: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails once renamed
	defer tmp.Close()
	crc := crc32.New(castagnoli)
	digest := newDigestWriter()
	out := io.MultiWriter(tmp, digest) // the whole file, CRC included
	w := bufio.NewWriterSize(io.MultiWriter(out, crc), 1<<20)

	froze := time.Now()
	ix, rev, err := index.Freeze()
	held := time.Since(froze)
	if err == nil {
		err = f.write(ctx, w, ix, rev)
	}
	if err == nil {
		err = binary.Write(out, binary.LittleEndian, crc.Sum32())
	}
	if err == nil {
		err = tmp.Sync()
	}
	if err == nil {
		err = tmp.Close()
	}
	if err == nil {
		// Recorded before the rename: if either fails, or the process
		// dies between them, the next start finds a file that does not
		// match and loads from the store.
		err = f.recordDigest(ctx, digest.Sum())
	}
	if err == nil {
		err = os.Rename(tmp.Name(), f.path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(f.path))
	}
	if err != nil {
		return fmt.Errorf("save index: %w", err)
	}
	f.saved.Store(rev)
	size := int64(0)
	if fi, err := os.Stat(f.path); err == nil {
		size = fi.Size()
	}
	f.log.Info("index saved", slog.String("file", f.path), slog.Int("live_operations", ix.Len()),
		slog.Int64("log_size", rev), slog.Int64("bytes", size), slog.Duration("writes_waited", held), slog.Duration("took", time.Since(start)))
	return nil
}

// write writes the head and the index, as it was when the log was rev
// long, to w and flushes it.
func (f *File) write(ctx context.Context, w *bufio.Writer, ix *geo.Frozen, rev int64) error {
	var root tlog.Hash
	err := f.store.View(ctx, func(tx dc.Tx) (err error) {
		root, err = record.TreeHash(ctx, tx, rev)
		return err
	})
	if err != nil {
		return err
	}
	// bufio.Writer keeps the first error; Flush returns it.
	w.Write(indexFileMagic[:])
	binary.Write(w, binary.LittleEndian, rev)
	w.Write(root[:])
	if err := ix.WriteSnapshot(w); err != nil {
		return err
	}
	return w.Flush()
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Load reads the file into an index and, in one read transaction, checks
// it against the store, has the operations changed since applied
// (Target.CatchUp) and puts it in place (Target.Use). It returns how many
// operations changed since, or why the file cannot be used; the caller
// then loads the index from the store.
func (f *File) Load(ctx context.Context, t Target) (caughtUp int, reason error) {
	data, unmap, err := mapFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, errors.New("there is none yet")
	} else if err != nil {
		return 0, err
	}
	defer unmap() // the index read from it keeps no reference into it
	const head = len(indexFileMagic) + 8 + 32
	if len(data) < head+4 || !bytes.Equal(data[:len(indexFileMagic)], indexFileMagic[:]) {
		return 0, errors.New("not an index snapshot of this version")
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	// The digest the store recorded covers every byte, so a file that
	// matches it needs no CRC-32C: the checksum is computed only to tell,
	// of a file that does not match, that it is damaged rather than
	// changed. The digest is computed while the file is decoded, and the
	// index decoded from it is used only if it matches.
	digest := startDigest(data)
	defer digest() // the file stays mapped until it is hashed
	damaged := func(why error) error {
		if crc32.Checksum(body, castagnoli) != sum {
			return errors.New("its checksum does not match: the file is damaged")
		}
		return why
	}
	rev := int64(binary.LittleEndian.Uint64(data[len(indexFileMagic):]))
	var root tlog.Hash
	copy(root[:], data[len(indexFileMagic)+8:head])
	err = f.store.View(ctx, func(tx dc.Tx) error {
		last, err := tx.LastSeq(ctx)
		if err != nil {
			return err
		}
		if rev < 0 || rev > last {
			return damaged(fmt.Errorf("it reflects a log of %d entries and the store has %d: it is from another store, or the store was restored from an older backup", rev, last))
		}
		if h, err := record.TreeHash(ctx, tx, rev); err != nil {
			return err
		} else if h != root {
			return damaged(fmt.Errorf("the store's log of %d entries is not the one the snapshot reflects: it is from another store", rev))
		}
		want, err := f.recordedDigest(ctx, tx)
		if err != nil {
			return damaged(err)
		}
		ix, err := geo.ReadSnapshot(data[head : len(data)-4])
		if err != nil {
			return damaged(err)
		}
		if caughtUp, err = t.CatchUp(ctx, tx, ix, rev); err != nil {
			return fmt.Errorf("operations changed since: %w", err)
		}
		if got := digest(); !bytes.Equal(got[:], want) {
			return damaged(errDigestMismatch)
		}
		if err := t.Use(ctx, tx, ix, last); err != nil {
			return err
		}
		f.saved.Store(rev)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return caughtUp, nil
}

// Schedule says when Run saves the file.
type Schedule struct {
	// Every is the interval at which the file is saved if the index
	// changed.
	Every time.Duration
	// AfterEvents saves it also as soon as that many events were logged
	// since the last save (0: only by time)...
	AfterEvents int64
	// ...but not sooner than MinGap after the last save.
	MinGap time.Duration
}

// Run keeps the file fresh until ctx ends: at once if it does not hold
// the index as loaded, then as s says. A restart after a crash then reads
// the snapshot and applies what changed since: at most an interval's
// changes, and under a heavy load of declarations no more than
// s.AfterEvents of them (at 2,000 declarations a second, ten minutes
// would be over a million: as long to catch up as to load from the
// store). Failures are logged; the next round tries again.
func (f *File) Run(ctx context.Context, index Index, s Schedule) {
	poll := min(s.Every, time.Second)
	t := time.NewTicker(poll)
	defer t.Stop()
	last := time.Time{}
	for {
		// Saving holds the writes for about a second at a million live
		// operations: by events, at most once a MinGap.
		since := time.Since(last)
		if f.due(index, since >= s.Every, since >= min(s.Every, s.MinGap), s.AfterEvents) {
			last = time.Now()
			if err := f.Save(ctx, index); err != nil && ctx.Err() == nil {
				f.log.Warn("index snapshot not saved", slog.String("file", f.path), slog.String("error", err.Error()))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// due reports whether the file should be saved now: its interval is up,
// or afterEvents or more events were logged since it was last saved and
// the gap since then is long enough.
func (f *File) due(index Index, intervalUp, gapOver bool, afterEvents int64) bool {
	if intervalUp {
		return true
	}
	if !gapOver {
		return false
	}
	saved := f.saved.Load()
	return afterEvents > 0 && saved >= 0 && index.Rev()-saved >= afterEvents
}
