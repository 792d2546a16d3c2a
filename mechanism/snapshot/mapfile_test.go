package snapshot

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestSnapshotReadIsPrivate: the bytes a snapshot is read into are the
// process's own. A start hashes them (to compare with the digest the store
// recorded) while it decodes them; had they stayed a shared view of the
// file, whoever may write the data folder could change the file in place
// between the two, and have a forged index decoded from a file whose
// digest matched.
func TestSnapshotReadIsPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.db.index")
	want := bytes.Repeat([]byte("deconflict"), 100_000)
	if err := os.WriteFile(path, want, 0o600); err != nil {
		t.Fatal(err)
	}
	data, unmap, err := mapFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer unmap()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(bytes.Repeat([]byte("X"), 4096), 500_000); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, want) {
		t.Fatal("the file was changed in place after it was read, and the bytes read changed with it")
	}
}

// BenchmarkSnapshotRead measures reading a 256 MiB snapshot file (in the
// page cache) into memory as a start does (mapFile): its MB/s gives the
// cost for a file of any size, beside BenchmarkSnapshotDigest's.
func BenchmarkSnapshotRead(b *testing.B) {
	path := filepath.Join(b.TempDir(), "d.db.index")
	if err := os.WriteFile(path, make([]byte, 256<<20), 0o600); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(256 << 20)
	for b.Loop() {
		_, unmap, err := mapFile(path)
		if err != nil {
			b.Fatal(err)
		}
		unmap()
	}
}
