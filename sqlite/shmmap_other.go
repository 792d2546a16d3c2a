//go:build !linux

package sqlite

import "os"

// mapShm maps nothing here: CommitMark reads the -shm file with pread.
func mapShm(*os.File) []byte { return nil }

// unmapShm undoes mapShm.
func unmapShm([]byte) {}
