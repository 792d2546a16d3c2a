package mechanism

import (
	"os"
	"syscall"
)

// mapFile returns the contents of the file at path, mapped read-only with
// its pages populated at once (one system call, instead of a page fault
// for every 4 KiB as a read into a new buffer costs), and the function
// that unmaps them. Nothing may keep a reference into the contents after
// that.
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
	if fi.Size() == 0 {
		return nil, func() {}, nil
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED|syscall.MAP_POPULATE)
	if err != nil {
		data, err := os.ReadFile(path)
		return data, func() {}, err
	}
	return data, func() { _ = syscall.Munmap(data) }, nil
}
