package mechanism

import (
	"context"
	"time"

	dc "github.com/deconflict/deconflict"
	"github.com/golang/geo/s2"
)

// SetSnapshotGap sets the least time between saves of the index snapshot
// triggered by events, for a test; it returns the function that restores
// it. Call it before Index.RunIndexSnapshots starts.
func SetSnapshotGap(d time.Duration) (restore func()) {
	old := snapshotGap
	snapshotGap = d
	return func() { snapshotGap = old }
}

// DeclareWithGap is Declare with between run after the declaration's
// conflict search ahead of the write lock and before its write: what
// changes in that gap, the write must still see.
func (m *Mechanism) DeclareWithGap(ctx context.Context, a dc.Actor, id string, d Declaration, between func()) (*Result, error) {
	return m.declare(ctx, a, id, d, nil, between, false)
}

// ReloadIndex replaces the index with one loaded from the store, as a
// failed write does.
func (ix Index) ReloadIndex(ctx context.Context) error {
	m := ix.m
	w := m.writer
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.store.View(ctx, func(tx dc.Tx) error { return w.reload(ctx, tx) })
}

// Rect returns the box as the index tests footprints against it.
func (b BBox) Rect() s2.Rect { return b.rect() }

// CallerBatches is the most batches a caller that became the writer ran
// before it was answered.
func (m *Mechanism) CallerBatches() int64 { return m.writer.callerBatches.Load() }

// ForgetLoggedVersions makes the writer forget the versions it logged,
// as a process that did not write them knows none.
func (m *Mechanism) ForgetLoggedVersions() { m.writer.logged = newLoggedVersions() }

// RemembersLogged reports whether the writer remembers logging the
// version whose first entry is at index.
func (m *Mechanism) RemembersLogged(index int64) bool {
	_, ok := m.writer.logged.at(index)
	return ok
}

// RemembersCopy reports whether the node remembers appending a copy of a
// peer's entry at index (federation_copies.go).
func (m *Mechanism) RemembersCopy(index int64) bool {
	_, ok := m.fed.copies.at(index)
	return ok
}

// ForgetCopies makes the node forget the copies it appended, as a
// process that did not append them knows none.
func (m *Mechanism) ForgetCopies() {
	m.fed.copies.mu.Lock()
	defer m.fed.copies.mu.Unlock()
	m.fed.copies.by, m.fed.copies.order, m.fed.copies.next = nil, nil, 0
}

// WriterRev is the highest event seq the writer knows its index reflects.
func (m *Mechanism) WriterRev() int64 {
	m.writer.mu.Lock()
	defer m.writer.mu.Unlock()
	return m.writer.rev
}

// RemembersEntry reports whether the writer remembers committing entry
// index of the log (federation_entries.go).
func (m *Mechanism) RemembersEntry(index int64) bool {
	return len(m.writer.entries.within(index, index+1)) == 1
}

// WithoutEntries runs fn with the writer forgetting the entries it
// committed, as a process that did not commit them knows none, and then
// remembering them again.
func (m *Mechanism) WithoutEntries(fn func()) {
	r := m.writer.entries
	r.mu.Lock()
	entries, bytes := r.entries, r.bytes
	r.entries, r.bytes = nil, 0
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.entries, r.bytes = entries, bytes
		r.mu.Unlock()
	}()
	fn()
}
