package snapshot

import (
	"fmt"
	"io"
	"os"
	"syscall"
)

// mapFile returns the contents of the file at path, read into memory of
// the process's own, and the function that frees that memory. Nothing may
// keep a reference into the contents after that.
//
// The memory is a private anonymous mapping with its pages populated at
// once (one system call, instead of a page fault for every 4 KiB as a
// read into a new buffer costs), and the file is read into it with one
// copy. It is not a mapping of the file itself: a shared view would
// change with the file, and a start hashes the snapshot (to compare with
// the digest its store recorded) while it decodes it, so whoever may
// write the data folder could change the file between the two.
func mapFile(path string) ([]byte, func(), error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	size := fi.Size()
	if size == 0 {
		return nil, func() {}, nil
	}
	data, err := syscall.Mmap(-1, 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS|syscall.MAP_POPULATE)
	if err != nil {
		data, err := os.ReadFile(path)
		return data, func() {}, err
	}
	unmap := func() { _ = syscall.Munmap(data) }
	if _, err := io.ReadFull(io.NewSectionReader(f, 0, size), data); err != nil {
		unmap()
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	return data, unmap, nil
}
