package snapshot

import "testing"

// BenchmarkSnapshotDigest measures the digest a start computes over the
// index snapshot file before using it (fileDigest, on every core), on
// 256 MiB: its MB/s gives the cost for a file of any size (about 450
// bytes a live operation).
func BenchmarkSnapshotDigest(b *testing.B) {
	data := make([]byte, 256<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		fileDigest(data)
	}
}
