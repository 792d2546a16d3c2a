package sqlite

import (
	"context"
	"slices"
	"sync"

	"github.com/deconflict/deconflict"
)

// Every batch of the mechanism's writer reads the parties and the
// settings, which almost nothing changes, and the tops of three tables
// that only grow — the last event's seq, the last DSS record's change
// number, the last Merkle log hash with the hashes at the log's right
// edge — which only its own commits change while it is the one writer.
// The write connection keeps them between its transactions for as long
// as they are known to be what is committed:
//
//   - SQLite's data_version of a connection changes whenever another
//     connection, of this process or of another, has committed since it
//     last looked: then everything kept is dropped and read again;
//   - a transaction that changes the parties or the settings drops them,
//     whether it commits or not, and reads them from the tables until it
//     ends;
//   - a transaction that appends events, DSS records or log hashes
//     leaves what is kept as it was until it has committed, and then
//     keeps the new tops (a deletion of DSS records drops that top).
//
// A transaction that has not read data_version when it commits such
// appends drops everything instead.

// kept is what the write connection keeps between its transactions.
type kept struct {
	mu       sync.Mutex
	valid    bool  // version is set; what is kept below was read at it
	version  int64 // the write connection's data_version
	parties  []*deconflict.Party
	settings *deconflict.Settings
	// The tops committed, each once have*.
	lastSeq, dssSeq, logTop             int64
	haveLastSeq, haveDSSSeq, haveLogTop bool
	// hashes are committed log hashes by storage index: those recent
	// transactions stored or read, at most maxKeptHashes.
	hashes map[int64][32]byte
}

// maxKeptHashes bounds the log hashes kept; past it they are dropped and
// read again as needed (the few dozen at the log's right edge, mostly).
const maxKeptHashes = 4096

// drop forgets everything kept.
func (k *kept) drop() {
	k.mu.Lock()
	k.valid = false
	k.mu.Unlock()
}

// at returns k as of version v, emptied if it was kept at another one.
// Called with k.mu held.
func (k *kept) at(v int64) *kept {
	if !k.valid || k.version != v {
		k.valid, k.version, k.parties, k.settings, k.hashes = true, v, nil, nil, nil
		k.haveLastSeq, k.haveDSSSeq, k.haveLogTop = false, false, false
	}
	return k
}

// tops is what a write transaction read or wrote of the tables that only
// grow, for what its connection keeps once it has committed.
type tops struct {
	lastEvent     int64 // the seq of the last event it appended; 0 if none
	readLastSeq   int64 // LastSeq as read from the table, once readLastSeqOK
	dssMax        int64 // the highest change number it stored; 0 if none
	readDSSSeq    int64 // DSSLastSeq as read from the table, once readDSSSeqOK
	dssDeleted    bool  // it deleted DSS records
	readLastSeqOK bool
	readDSSSeqOK  bool
	logRead       map[int64][32]byte // committed log hashes it read from the table
	appended      bool               // it appended events, DSS records or log hashes, or deleted DSS records
}

// keptTop returns a top kept as of the transaction's data_version.
func (t *tx) keptTop(ctx context.Context, which func(k *kept) (int64, bool)) (int64, bool) {
	v, ok := t.keeping(ctx)
	if !ok {
		return 0, false
	}
	t.kept.mu.Lock()
	defer t.kept.mu.Unlock()
	return which(t.kept.at(v))
}

// keptHashes fills in the hashes at indexes that are kept, and returns
// the positions it could not.
func (t *tx) keptHashes(ctx context.Context, indexes []int64, hashes [][32]byte, missing []int) []int {
	v, ok := t.keeping(ctx)
	if !ok {
		return missing
	}
	t.kept.mu.Lock()
	defer t.kept.mu.Unlock()
	k := t.kept.at(v)
	out := missing[:0]
	for _, i := range missing {
		if h, ok := k.hashes[indexes[i]]; ok {
			hashes[i] = h
		} else {
			out = append(out, i)
		}
	}
	return out
}

// committed keeps what a write transaction that has just committed
// leaves known: the tops of what it appended, and the log hashes it
// stored or read.
func (t *tx) committed() {
	if t.kept == nil {
		return
	}
	tp := &t.tops
	if !t.versionRead || t.changedKept {
		if tp.appended || t.changedKept {
			t.kept.drop()
		}
		return
	}
	t.kept.mu.Lock()
	defer t.kept.mu.Unlock()
	k := t.kept
	if !k.valid || k.version != t.version {
		return // emptied at another version meanwhile: nothing to add
	}
	switch {
	case tp.lastEvent > 0: // AUTOINCREMENT: the last appended is the highest
		k.lastSeq, k.haveLastSeq = tp.lastEvent, true
	case tp.readLastSeqOK:
		k.lastSeq, k.haveLastSeq = tp.readLastSeq, true
	}
	switch {
	case tp.dssDeleted:
		k.haveDSSSeq = false
	case tp.readDSSSeqOK:
		k.dssSeq, k.haveDSSSeq = max(tp.readDSSSeq, tp.dssMax), true
	case k.haveDSSSeq:
		k.dssSeq = max(k.dssSeq, tp.dssMax)
	case tp.dssMax > 0:
		// The change numbers are the caller's: without the top before
		// them, the top after is unknown.
	}
	if t.logKnown {
		k.logTop, k.haveLogTop = t.logLast, true
	}
	if len(k.hashes)+len(t.logPut)+len(tp.logRead) > maxKeptHashes {
		k.hashes = nil
	}
	if k.hashes == nil {
		k.hashes = make(map[int64][32]byte, len(t.logPut)+len(tp.logRead))
	}
	for idx, h := range t.logPut {
		k.hashes[idx] = h
	}
	for idx, h := range tp.logRead {
		k.hashes[idx] = h
	}
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
