//go:build !linux

package geo

import "time"

var cpuEpoch = time.Now()

// threadCPU falls back to the wall clock where the thread's CPU clock is
// not read.
func threadCPU() time.Duration { return time.Since(cpuEpoch) }
