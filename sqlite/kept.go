package sqlite

import (
	"context"
	"slices"
	"sync"

	"github.com/deconflict/deconflict"
)

// The parties and the settings are read by nearly every write transaction
// (each batch of the mechanism's writer reads both) and changed by almost
// none. The write connection keeps them between its transactions for as
// long as they are known to be unchanged: SQLite's data_version of a
// connection changes whenever another connection, of this process or of
// another, has committed since it last looked, and this connection's own
// transactions drop what is kept when they change the parties or the
// settings, whether they commit or not. A transaction that changed them
// reads them from its tables until it ends.

// kept is what the write connection keeps between its transactions.
type kept struct {
	mu       sync.Mutex
	valid    bool  // version is set; what is kept below was read at it
	version  int64 // the write connection's data_version
	parties  []*deconflict.Party
	settings *deconflict.Settings
}

// drop forgets everything kept.
func (k *kept) drop() {
	k.mu.Lock()
	k.valid, k.parties, k.settings = false, nil, nil
	k.mu.Unlock()
}

// at returns k as of version v, emptied if it was kept at another one.
// Called with k.mu held.
func (k *kept) at(v int64) *kept {
	if !k.valid || k.version != v {
		k.valid, k.version, k.parties, k.settings = true, v, nil, nil
	}
	return k
}

// keeping reports whether the transaction may use what its connection
// keeps, with the connection's data_version: a write transaction that has
// not changed the parties or the settings, once data_version is read.
func (t *tx) keeping(ctx context.Context) (int64, bool) {
	if t.kept == nil || t.changedKept {
		return 0, false
	}
	if !t.versionRead {
		if err := t.queryRow(ctx, "PRAGMA data_version").Scan(&t.version); err != nil {
			return 0, false // read them from the tables
		}
		t.versionRead = true
	}
	return t.version, true
}

// changeKept records that the transaction changes the parties or the
// settings: what is kept is dropped now and again when it ends (Update).
func (t *tx) changeKept() {
	if t.kept != nil {
		t.changedKept = true
		t.kept.drop()
	}
}

// keptParties returns the parties kept, each a copy, if there are.
func (t *tx) keptParties(ctx context.Context) ([]*deconflict.Party, bool) {
	v, ok := t.keeping(ctx)
	if !ok {
		return nil, false
	}
	t.kept.mu.Lock()
	defer t.kept.mu.Unlock()
	ps := t.kept.at(v).parties
	if ps == nil {
		return nil, false
	}
	return cloneParties(ps), true
}

// keepParties keeps a copy of the parties the transaction read.
func (t *tx) keepParties(ctx context.Context, ps []*deconflict.Party) {
	if v, ok := t.keeping(ctx); ok {
		t.kept.mu.Lock()
		t.kept.at(v).parties = cloneParties(ps)
		t.kept.mu.Unlock()
	}
}

// keptSettings returns the settings kept, if there are.
func (t *tx) keptSettings(ctx context.Context) (deconflict.Settings, bool) {
	v, ok := t.keeping(ctx)
	if !ok {
		return deconflict.Settings{}, false
	}
	t.kept.mu.Lock()
	defer t.kept.mu.Unlock()
	s := t.kept.at(v).settings
	if s == nil {
		return deconflict.Settings{}, false
	}
	return *s, true
}

// keepSettings keeps the settings the transaction read.
func (t *tx) keepSettings(ctx context.Context, s deconflict.Settings) {
	if v, ok := t.keeping(ctx); ok {
		t.kept.mu.Lock()
		t.kept.at(v).settings = &s
		t.kept.mu.Unlock()
	}
}

// cloneParties copies parties, so that no caller changes another's.
func cloneParties(ps []*deconflict.Party) []*deconflict.Party {
	out := make([]*deconflict.Party, len(ps))
	for i, p := range ps {
		c := *p
		c.Keys = slices.Clone(p.Keys)
		out[i] = &c
	}
	return out
}
