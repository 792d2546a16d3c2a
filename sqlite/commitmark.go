package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/deconflict/deconflict"
)

// A server's token cache asks on every request whether a token may have
// been revoked by another process since it last looked (see
// deconflict.CommitWatcher). Reading the revocation count costs a
// statement through database/sql, several microseconds; PRAGMA
// data_version costs as much. SQLite itself answers the same question for
// every new read transaction from the wal-index header, at the start of
// the file PATH-shm that every connection to a WAL database maps into
// memory, in every process:
//
//	offset 0, native byte order: iVersion (3007000), unused, iChange
//	(incremented by every commit), isInit, ..., mxFrame (the last valid
//	frame of the WAL), nPage, frame checksum, salts, header checksum
//
// 48 bytes, written twice (the second copy first, then the first), so
// that a reader tells a header being written from a whole one
// (https://sqlite.org/walformat.html). Every process that shares the
// store shares this file and must agree on its format, so it does not
// change between versions of SQLite. CommitMark reads both copies from
// the file's first page, which it maps into memory shared, as SQLite's
// connections do (on Linux; elsewhere, or if the mapping fails, with one
// pread): once a commit has returned, in any process, the header differs
// from every header read before it.
//
// Two things keep the read sound:
//   - The file read must be the one SQLite uses. SQLite names it after the
//     database file it opened, links resolved (PRAGMA database_list), so
//     a store opened through a symbolic link reads the file beside the
//     link's target, not one named after the link. SQLite truncates or
//     deletes the file only when no connection in any process has the
//     database open. The store holds a connection of its own open from
//     the first CommitMark to Close, so while the store is open the file
//     is the live one.
//   - Closing any descriptor of a file drops every POSIX lock the process
//     holds on it, and SQLite's locks on this file (who reads, who
//     writes) are POSIX locks. So the descriptor CommitMark reads is
//     shared by the process's stores on the file (shmFiles) and closed
//     only once no open store reads it and SQLite has deleted the file:
//     then no connection uses it any more, in any process.

// walIndexVersion is the iVersion of the wal-index header SQLite writes.
const walIndexVersion = 3007000

// walIndexHeaderSize is the size of one copy of the wal-index header.
const walIndexHeaderSize = 48

// commitWatch is what CommitMark reads: the -shm file and the connection
// that keeps it the live one.
type commitWatch struct {
	// file is the name SQLite gave the store's file (mainFile), read
	// when the store opened.
	file string
	once sync.Once
	pin  driver.Conn
	shm  *shmFile
	err  error // why there is no mark, if so
	// closed is set by Close: a closed store's file may be gone.
	closed atomic.Bool
}

// CommitMark returns the two copies of the store file's wal-index header
// (deconflict.CommitWatcher). ok is false if the header could not be read
// or was being written.
func (db *DB) CommitMark() (deconflict.CommitMark, bool) {
	w := &db.watch
	w.once.Do(func() { w.pin, w.shm, w.err = db.openCommitWatch() })
	var mark deconflict.CommitMark
	if w.shm == nil || w.closed.Load() {
		return mark, false
	}
	if !w.shm.readMapped(&mark) {
		if n, err := w.shm.ReadAt(mark[:], 0); n != len(mark) || (err != nil && err != io.EOF) {
			return mark, false
		}
	}
	first, second := mark[:walIndexHeaderSize], mark[walIndexHeaderSize:2*walIndexHeaderSize]
	if binary.NativeEndian.Uint32(first) != walIndexVersion || first[12] != 1 || string(first) != string(second) {
		return mark, false // not a header (yet), or one being written
	}
	return mark, true
}

// mainFile returns the name SQLite gave the file the connections of pool
// opened, links resolved: the wal-index file is named after it.
func mainFile(ctx context.Context, pool *sql.DB) (string, error) {
	var seq int
	var name, path string
	if err := pool.QueryRowContext(ctx, "PRAGMA database_list").Scan(&seq, &name, &path); err != nil {
		return "", fmt.Errorf("watch commits: name the store's file: %w", err)
	}
	if name != "main" || path == "" {
		return "", fmt.Errorf("watch commits: the store's file is named %q (%s)", path, name)
	}
	return path, nil
}

// openCommitWatch opens a connection to the store's file and reads
// through it, which maps the wal-index into it, then returns it with the
// wal-index file to read.
func (db *DB) openCommitWatch() (driver.Conn, *shmFile, error) {
	path := db.watch.file
	if db.watch.err != nil {
		return nil, nil, db.watch.err
	}
	conn, err := sqliteDriver.Open(dsn(path, url.Values{"_query_only": {"1"}}))
	if err != nil {
		return nil, nil, fmt.Errorf("open a connection to watch commits: %w", err)
	}
	if err := readOnce(conn); err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("watch commits: %w", err)
	}
	f, err := shmFiles.open(path + "-shm")
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("watch commits: %w", err)
	}
	return conn, f, nil
}

// readOnce runs a read on conn, which opens its read of the WAL and the
// wal-index.
func readOnce(conn driver.Conn) error {
	q, ok := conn.(driver.QueryerContext)
	if !ok {
		return errors.New(Library + ": the driver's connection cannot run queries")
	}
	rows, err := q.QueryContext(context.Background(), "SELECT count(*) FROM sqlite_master", nil)
	if err != nil {
		return err
	}
	defer rows.Close()
	dest := make([]driver.Value, len(rows.Columns()))
	return rows.Next(dest)
}

// closeCommitWatch closes the connection CommitMark kept open, then lets
// go of the -shm file (see shmFiles).
func (db *DB) closeCommitWatch() error {
	w := &db.watch
	w.closed.Store(true)
	w.once.Do(func() { w.err = errors.New("store closed") })
	if w.pin == nil {
		return nil
	}
	err := w.pin.Close()
	w.pin = nil
	shmFiles.release(w.shm)
	return err
}

// shmFiles holds the descriptors of the -shm files read by CommitMark, one
// per file, shared by the stores open on it. A descriptor is closed only
// when no open store reads it and its file is no longer at its name:
// SQLite deletes the file when the last connection to the database, in
// any process, closes, and a connection opened after that makes a new
// one. Closing it earlier would drop SQLite's locks on the file (see
// above).
var shmFiles shmRegistry

type shmRegistry struct {
	mu    sync.Mutex
	files []*shmFile
}

// shmFile is a -shm file held open by shmFiles.
type shmFile struct {
	*os.File
	path  string
	users int // open stores that read it
	// mem is the file's first page mapped into memory (mapShm), where
	// the header is read without a system call; nil where it is not
	// mapped. faulted is set once reading it faulted (the file cut short
	// behind SQLite's back): from then on the header is read with pread.
	mem     []byte
	faulted atomic.Bool
}

// readMapped copies both copies of the wal-index header from the mapped
// page into mark, a 32-bit word at a time in order, each load atomic as
// SQLite's readers load them; false if the page is not mapped or the read
// faulted.
func (f *shmFile) readMapped(mark *deconflict.CommitMark) (ok bool) {
	if f.mem == nil || f.faulted.Load() {
		return false
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if recover() != nil {
			f.faulted.Store(true)
			ok = false
		}
	}()
	for i := 0; i < len(mark); i += 4 {
		w := atomic.LoadUint32((*uint32)(unsafe.Pointer(&f.mem[i])))
		binary.NativeEndian.PutUint32(mark[i:], w)
	}
	return true
}

// open returns the descriptor of the file at path, opening it unless it
// is held already, for one more store.
func (r *shmRegistry) open(path string) (*shmFile, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.prune()
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	for _, f := range r.files {
		if held, err := f.Stat(); err == nil && os.SameFile(fi, held) {
			f.users++
			return f, nil
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	sf := &shmFile{File: f, path: path, users: 1, mem: mapShm(f)}
	r.files = append(r.files, sf)
	return sf, nil
}

// release tells that a store no longer reads f.
func (r *shmRegistry) release(f *shmFile) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f.users--
	r.prune()
}

// prune closes the descriptors no open store reads whose files SQLite
// deleted. r.mu is held.
func (r *shmRegistry) prune() {
	r.files = slices.DeleteFunc(r.files, func(f *shmFile) bool {
		if f.users > 0 {
			return false
		}
		held, err := f.Stat()
		if err != nil {
			return false
		}
		now, err := os.Stat(f.path)
		if err == nil && os.SameFile(now, held) || err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false // still the live file, in another process, or cannot tell
		}
		unmapShm(f.mem)
		f.Close()
		return true
	})
}
