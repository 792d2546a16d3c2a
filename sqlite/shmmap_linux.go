package sqlite

import (
	"os"
	"syscall"
)

// mapShm maps the first page of the -shm file f into memory, read-only
// and shared: the page SQLite's own connections map, so that what a
// commit of any process writes into the wal-index header shows in it at
// once, and reading the header costs no system call. nil if it cannot.
func mapShm(f *os.File) []byte {
	fi, err := f.Stat()
	if err != nil || fi.Size() < 2*walIndexHeaderSize {
		return nil // a page past the end of the file faults when read
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return nil
	}
	var mem []byte
	if err := rc.Control(func(fd uintptr) {
		mem, err = syscall.Mmap(int(fd), 0, os.Getpagesize(), syscall.PROT_READ, syscall.MAP_SHARED)
	}); err != nil || mem == nil {
		return nil
	}
	return mem
}

// unmapShm undoes mapShm.
func unmapShm(mem []byte) {
	if mem != nil {
		_ = syscall.Munmap(mem)
	}
}
