package mechanism

import "time"

// SetSnapshotGap sets the least time between saves of the index snapshot
// triggered by events, for a test; it returns the function that restores
// it. Call it before RunIndexSnapshots starts.
func SetSnapshotGap(d time.Duration) (restore func()) {
	old := snapshotGap
	snapshotGap = d
	return func() { snapshotGap = old }
}
