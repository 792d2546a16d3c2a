package mechanism

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
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/geo"
	"github.com/deconflict/deconflict/record"
	"golang.org/x/mod/sumdb/tlog"
)

// An index snapshot lets a restart skip reading and re-filing every live
// operation: SaveIndex writes the index as it is held (geo's snapshot)
// with the size of the log it reflects and the log's root hash at that
// size; Load reads it back when the store's log, cut at that size, has
// the same root hash — the same history, not just the same length — and
// then applies the operations changed since, as a catch-up would. A
// snapshot that is missing, damaged, from another store or version,
// ahead of the store (a restored backup), or not the file whose digest
// the store recorded when it was saved (snapshotbind.go) is left aside:
// the index is loaded from the store as without one. A snapshot is never
// needed for correctness, only for speed.
//
//	[8]byte  indexFileMagic
//	int64    log size (the rev of the index)
//	[32]byte the log's root hash at that size
//	         geo.Index.WriteSnapshot
//	uint32   CRC-32C of all that comes before
var indexFileMagic = [8]byte{'d', 'c', 'f', 'i', 'd', 'x', 0, 1}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// SaveIndex writes the index to the snapshot file of Options.IndexSnapshot
// (nothing if there is none), replacing the last one atomically; the
// next Load starts from it. Writes wait only while the index is copied
// (geo.Index.Freeze), not while it is written out and synced, which takes
// many times longer.
func (m *Mechanism) SaveIndex(ctx context.Context) error {
	if m.snapshot == "" {
		return nil
	}
	m.saveMu.Lock()
	defer m.saveMu.Unlock()
	m.mu.Lock()
	unchanged := m.rev == m.savedRev
	m.mu.Unlock()
	if unchanged {
		return nil // the file already holds this index
	}
	start := time.Now()
	// What a process killed while saving left behind.
	if stale, err := filepath.Glob(m.snapshot + ".tmp*"); err == nil {
		for _, name := range stale {
			os.Remove(name)
		}
	}
	f, err := os.CreateTemp(filepath.Dir(m.snapshot), filepath.Base(m.snapshot)+".tmp*")
	if err != nil {
		return fmt.Errorf("save index: %w", err)
	}
	defer os.Remove(f.Name()) // fails once renamed
	defer f.Close()
	crc := crc32.New(castagnoli)
	digest := newDigestWriter()
	out := io.MultiWriter(f, digest) // the whole file, CRC included
	w := bufio.NewWriterSize(io.MultiWriter(out, crc), 1<<20)

	m.mu.Lock()
	froze := time.Now()
	dirty := m.replica.dirty.Load()
	ix, rev := m.index.Load().Freeze(), m.rev
	m.mu.Unlock()
	held := time.Since(froze)
	if dirty {
		err = errors.New("the index waits to be reloaded after a failed write")
	} else {
		err = m.writeSnapshot(ctx, w, ix, rev)
	}
	if err == nil {
		err = binary.Write(out, binary.LittleEndian, crc.Sum32())
	}
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = f.Close()
	}
	if err == nil {
		// Recorded before the rename: if either fails, or the process
		// dies between them, the next start finds a file that does not
		// match and loads from the store.
		err = m.recordSnapshotDigest(ctx, digest.Sum())
	}
	if err == nil {
		err = os.Rename(f.Name(), m.snapshot)
	}
	if err == nil {
		err = syncDir(filepath.Dir(m.snapshot))
	}
	if err != nil {
		return fmt.Errorf("save index: %w", err)
	}
	m.mu.Lock()
	m.savedRev = rev
	m.mu.Unlock()
	size := int64(0)
	if fi, err := os.Stat(m.snapshot); err == nil {
		size = fi.Size()
	}
	m.log.Info("index saved", slog.String("file", m.snapshot), slog.Int("live_operations", ix.Len()),
		slog.Int64("log_size", rev), slog.Int64("bytes", size), slog.Duration("writes_waited", held), slog.Duration("took", time.Since(start)))
	return nil
}

// writeSnapshot writes the head and the index, as it was when the log
// was rev long, to w and flushes it.
func (m *Mechanism) writeSnapshot(ctx context.Context, w *bufio.Writer, ix *geo.Frozen, rev int64) error {
	var root tlog.Hash
	err := m.store.View(ctx, func(tx dc.Tx) (err error) {
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

// loadSnapshot fills the index from the snapshot file and the operations
// changed since it was saved, in one read transaction. It reports false,
// with the reason, when the snapshot cannot be used; the caller then
// loads from the store. It is called with m.mu held.
func (m *Mechanism) loadSnapshot(ctx context.Context) (used bool, caughtUp int, reason error) {
	data, unmap, err := mapFile(m.snapshot)
	if errors.Is(err, fs.ErrNotExist) {
		return false, 0, errors.New("there is none yet")
	} else if err != nil {
		return false, 0, err
	}
	defer unmap() // the index read from it keeps no reference into it
	const head = len(indexFileMagic) + 8 + 32
	if len(data) < head+4 || !bytes.Equal(data[:len(indexFileMagic)], indexFileMagic[:]) {
		return false, 0, errors.New("not an index snapshot of this version")
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
	err = m.store.View(ctx, func(tx dc.Tx) error {
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
		want, err := m.recordedDigest(ctx, tx)
		if err != nil {
			return damaged(err)
		}
		ix, err := geo.ReadSnapshot(data[head : len(data)-4])
		if err != nil {
			return damaged(err)
		}
		if caughtUp, err = applySince(ctx, tx, ix, rev); err != nil {
			return fmt.Errorf("operations changed since: %w", err)
		}
		if got := digest(); !bytes.Equal(got[:], want) {
			return damaged(errDigestMismatch)
		}
		open, err := countOpenConflicts(ctx, tx)
		if err != nil {
			return fmt.Errorf("count open conflicts: %w", err)
		}
		m.index.Store(ix)
		m.rev = last
		m.savedRev = rev
		m.replica.seen.Store(last)
		m.stats.setOpenConflicts(open)
		return nil
	})
	if err != nil {
		return false, 0, err
	}
	return true, caughtUp, nil
}

// RunIndexSnapshots keeps the index snapshot file fresh until ctx ends:
// at once if the file does not hold the index as loaded, then every
// interval if the index changed, and also as soon as afterEvents events
// were logged since the last save (0: only by time). A restart after a
// crash then reads the snapshot and applies what changed since: at most
// an interval's changes, and under a heavy load of declarations no more
// than afterEvents of them (at 2,000 declarations a second, ten minutes
// would be over a million: as long to catch up as to load from the
// store). Failures are logged; the next round tries again.
func (m *Mechanism) RunIndexSnapshots(ctx context.Context, every time.Duration, afterEvents int64) {
	if m.snapshot == "" {
		return
	}
	poll := min(every, time.Second)
	t := time.NewTicker(poll)
	defer t.Stop()
	last := time.Time{}
	for {
		// Saving holds the writes for about a second at a million live
		// operations: by events, at most once a minute.
		since := time.Since(last)
		if m.snapshotDue(since >= every, since >= min(every, snapshotGap), afterEvents) {
			last = time.Now()
			if err := m.SaveIndex(ctx); err != nil && ctx.Err() == nil {
				m.log.Warn("index snapshot not saved", slog.String("file", m.snapshot), slog.String("error", err.Error()))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// snapshotGap is the least time between two saves of the snapshot
// triggered by the number of events.
var snapshotGap = time.Minute

// snapshotDue reports whether the snapshot should be saved now: its
// interval is up, or afterEvents or more events were logged since it was
// last saved and the gap since then is long enough.
func (m *Mechanism) snapshotDue(intervalUp, gapOver bool, afterEvents int64) bool {
	if intervalUp {
		return true
	}
	if !gapOver {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return afterEvents > 0 && m.savedRev >= 0 && m.rev-m.savedRev >= afterEvents
}

// applySince applies to ix the operations changed since rev, decoding
// their kept geometries (or parsing them) and filing them on every core
// (each operation comes once, so the order does not matter), and returns
// how many there were.
func applySince(ctx context.Context, tx dc.Tx, ix *geo.Index, rev int64) (int, error) {
	type change struct {
		g    *dc.LiveGeometry
		live bool
	}
	changes := make(chan change, 256)
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
		failed   atomic.Bool
	)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range changes {
				if failed.Load() {
					continue
				}
				if !c.live {
					ix.Remove(c.g.ID)
					continue
				}
				vols, err := liveVolumes(c.g)
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					failed.Store(true)
					continue
				}
				ix.Insert(c.g.ID, c.g.Party, vols)
			}
		}()
	}
	n := 0
	send := func(g *dc.LiveGeometry, live bool) error {
		if failed.Load() {
			return errStop
		}
		n++
		changes <- change{g, live}
		return nil
	}
	var err error
	if gtx, ok := tx.(dc.GeometriesSinceTx); ok {
		err = gtx.GeometriesSince(ctx, rev, send)
	} else {
		err = tx.OperationsSince(ctx, rev, false, func(op *dc.Operation) error {
			return send(&dc.LiveGeometry{ID: op.ID, Party: op.Party, Operation: op}, op.State.Live())
		})
	}
	close(changes)
	wg.Wait()
	if firstErr != nil {
		return n, firstErr
	}
	return n, err
}
