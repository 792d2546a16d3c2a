package sqlite

import (
	"context"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"sync"
	"sync/atomic"

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
// change between versions of SQLite. CommitMark reads both copies with
// one pread (about a microsecond): once a commit has returned, in any
// process, the header differs from every header read before it.
//
// Two things keep the read sound:
//   - The file read must be the one SQLite uses. SQLite truncates or
//     deletes it only when no connection in any process has it open. The
//     store holds a connection of its own open from the first CommitMark
//     to Close, so while the store is open the file is the live one.
//   - Closing any descriptor of a file drops every POSIX lock the process
//     holds on it, and SQLite's locks on this file (who reads, who
//     writes) are POSIX locks. So the descriptor CommitMark reads is
//     never closed: one per file, kept for the life of the process
//     (shmFiles).

// walIndexVersion is the iVersion of the wal-index header SQLite writes.
const walIndexVersion = 3007000

// walIndexHeaderSize is the size of one copy of the wal-index header.
const walIndexHeaderSize = 48

// commitWatch is what CommitMark reads: the -shm file and the connection
// that keeps it the live one.
type commitWatch struct {
	once sync.Once
	pin  driver.Conn
	shm  *os.File
	err  error // why there is no mark, if so
	// closed is set by Close: a closed store's file may be gone.
	closed atomic.Bool
}

// CommitMark returns the two copies of the store file's wal-index header
// (deconflict.CommitWatcher). ok is false if the header could not be read
// or was being written.
func (db *DB) CommitMark() (deconflict.CommitMark, bool) {
	w := &db.watch
	w.once.Do(func() { w.pin, w.shm, w.err = openCommitWatch(db.abs) })
	var mark deconflict.CommitMark
	if w.shm == nil || w.closed.Load() {
		return mark, false
	}
	if n, err := w.shm.ReadAt(mark[:], 0); n != len(mark) || (err != nil && err != io.EOF) {
		return mark, false
	}
	first, second := mark[:walIndexHeaderSize], mark[walIndexHeaderSize:2*walIndexHeaderSize]
	if binary.NativeEndian.Uint32(first) != walIndexVersion || first[12] != 1 || string(first) != string(second) {
		return mark, false // not a header (yet), or one being written
	}
	return mark, true
}

// openCommitWatch opens a connection to the store at path (an absolute
// path) and reads through it, which maps the wal-index into it, then
// returns it with the descriptor of the wal-index file to read.
func openCommitWatch(path string) (driver.Conn, *os.File, error) {
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

// closeCommitWatch closes the connection CommitMark kept open; the
// descriptor of the -shm file stays open (see shmFiles).
func (db *DB) closeCommitWatch() error {
	w := &db.watch
	w.closed.Store(true)
	w.once.Do(func() { w.err = errors.New("store closed") })
	if w.pin == nil {
		return nil
	}
	err := w.pin.Close()
	w.pin = nil
	return err
}

// shmFiles holds the descriptors of the -shm files read by CommitMark, one
// per file, for the life of the process: closing one would drop SQLite's
// locks on the file (see above).
var shmFiles shmRegistry

type shmRegistry struct {
	mu    sync.Mutex
	files []*os.File
}

// open returns the descriptor of the file at path, opening it unless it
// is held already.
func (r *shmRegistry) open(path string) (*os.File, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	for _, f := range r.files {
		if held, err := f.Stat(); err == nil && os.SameFile(fi, held) {
			return f, nil
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r.files = append(r.files, f)
	return f, nil
}
