package mechanism

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"slices"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/record"
	jsonv2 "github.com/go-json-experiment/json"
	jsonv1 "github.com/go-json-experiment/json/v1"
	"golang.org/x/mod/sumdb/tlog"
)

// PeerLogEntry is one entry of this node's log as a peer node receives
// it: its bytes when one of the peer's parties may see the event and it
// is not a copy of another node's entry (isCopy), else only its leaf
// hash, so the peer can still check the whole tree.
type PeerLogEntry struct {
	Index    int64
	LeafHash tlog.Hash
	Data     []byte // nil when withheld
}

// MaxPeerLogPage is the most entries PeerLog answers at once.
const MaxPeerLogPage = 1000

// PeerPage is a page of this node's log as a peer receives it (PeerLog).
type PeerPage struct {
	// Checkpoint is this node's signed checkpoint of its log up to the
	// page's last entry, or of the whole log when the page is empty.
	Checkpoint []byte
	Entries    []PeerLogEntry
	// Size is the log's size as the page was read.
	Size int64
	// Key is the node key that signed Checkpoint, with its secret half:
	// the node signs its answer with the same key.
	Key *dc.SigningKey
}

// PeerLog returns the entries of this node's log from index from (at
// most limit) as a peer hosting parties may see them, with this node's
// signed checkpoint of the log up to the last entry returned, or of the
// whole log when there is nothing from from on, and the log's size.
// What a party may see is what a liaison of it sees on a single server:
// events for every party or for it (never another party's notes: events
// carry the operation as other parties see it).
func (f Federation) PeerLog(ctx context.Context, parties []string, from int64, limit int) (*PeerPage, error) {
	m := f.m
	limit, err := peerLogRange(from, limit)
	if err != nil {
		return nil, err
	}
	viewers := peerViewers(parties)
	p := &PeerPage{}
	err = m.store.View(ctx, func(tx dc.Tx) error {
		n, err := tx.LastSeq(ctx)
		if err != nil {
			return err
		}
		p.Size = n
		keys, err := tx.Keys(ctx)
		if err != nil {
			return err
		}
		active := activeKeys(keys)
		if len(active) == 0 {
			return fmt.Errorf("no active signing key")
		}
		p.Key = active[0]
		end := n
		if from < n {
			end = min(n, from+int64(limit))
			if p.Entries, err = m.peerPage(ctx, tx, viewers, from, end); err != nil {
				return err
			}
		}
		p.Checkpoint, err = record.Checkpoint(ctx, tx, originOf(keys), end, active)
		return err
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// peerViewers returns the actors whose view of the log is a peer's that
// hosts parties: a liaison of each.
func peerViewers(parties []string) []dc.Actor {
	viewers := make([]dc.Actor, len(parties))
	for i, p := range parties {
		viewers[i] = dc.Actor{Party: p, Role: dc.RoleLiaison}
	}
	return viewers
}

// peerPage returns the entries of the log from index from up to end
// (excluded) as a peer whose parties are viewers receives them
// (PeerLog), read in tx.
//
// An entry the writer remembers committing (federation_entries.go) is
// answered from memory. A withheld entry's leaf hash is the log's own,
// read for the page at once: its bytes are never built. A copy this
// process remembers appending (federation_copies.go) is withheld, its
// row never read, if the log holds the leaf hash it was appended with;
// any other entry a peer's party may see is judged by its body.
func (m *Mechanism) peerPage(ctx context.Context, tx dc.Tx, viewers []dc.Actor, from, end int64) ([]PeerLogEntry, error) {
	mem := m.writer.entries.within(from, end)
	copies, copyLeaves, err := m.rememberedCopies(ctx, tx, from, end, mem)
	if err != nil {
		return nil, err
	}
	skip := make([]int64, 0, len(mem)+len(copies)) // the seqs whose rows are not read
	for _, e := range mem {
		skip = append(skip, e.index+1)
	}
	skip = append(skip, copies...)
	slices.Sort(skip)
	evs, err := tx.EventsExcept(ctx, from, end, skip)
	if err != nil {
		return nil, err
	}
	if int64(len(evs)+len(skip)) != end-from {
		return nil, fmt.Errorf("peer log: %d events from %d, want %d", len(evs), from, end-from-int64(len(skip)))
	}
	var withheld []int64 // storage indexes of their leaf hashes
	var withheldAt []int // of entries, those withheld
	entries := make([]PeerLogEntry, 0, end-from)
	for i := from; i < end; i++ {
		pe := PeerLogEntry{Index: i}
		switch {
		case len(mem) > 0 && mem[0].index == i:
			e := &mem[0]
			mem = mem[1:]
			pe.LeafHash = e.leaf
			if e.record != nil && e.visibleToAny(viewers) {
				pe.Data = e.record
			}
		case len(copies) > 0 && copies[0] == i+1:
			pe.LeafHash = copyLeaves[0]
			copies, copyLeaves = copies[1:], copyLeaves[1:]
		default:
			e := evs[0]
			evs = evs[1:]
			if e.Seq != i+1 {
				return nil, fmt.Errorf("peer log: event %d where entry %d was", e.Seq, i)
			}
			if visibleToAny(e, viewers) && !isCopy(e) {
				pe.Data = record.MarshalledEntryBytes(e) // a peer checks its leaf hash against the tree
				pe.LeafHash = tlog.RecordHash(pe.Data)
			} else {
				withheld = append(withheld, tlog.StoredHashIndex(0, i))
				withheldAt = append(withheldAt, len(entries))
			}
		}
		entries = append(entries, pe)
	}
	if len(withheld) > 0 {
		leaves, err := tx.LogHashes(ctx, withheld)
		if err != nil {
			return nil, err
		}
		for j, i := range withheldAt {
			entries[i].LeafHash = leaves[j]
		}
	}
	return entries, nil
}

// rememberedCopies returns the event seqs of the copies this process
// remembers appending from log index from up to end (excluded), but for
// those of remembered entries (mem, in increasing index order), that the
// log, read in tx, holds with the leaf hash they were appended with, in
// increasing order, and those leaf hashes: the entries a peer is sent the
// leaf hash of without their rows being read (peerPage).
func (m *Mechanism) rememberedCopies(ctx context.Context, tx dc.Tx, from, end int64, mem []loggedEntry) (seqs []int64, leaves []tlog.Hash, err error) {
	hinted, hints := m.fed.copies.within(from, end)
	if len(hinted) == 0 {
		return nil, nil, nil
	}
	at := make([]int64, 0, len(hinted))
	keep := 0
	for j, i := range hinted {
		for len(mem) > 0 && mem[0].index < i {
			mem = mem[1:]
		}
		if len(mem) > 0 && mem[0].index == i {
			continue // answered from what the writer remembers
		}
		hinted[keep], hints[keep] = i, hints[j]
		keep++
		at = append(at, tlog.StoredHashIndex(0, i))
	}
	hinted, hints = hinted[:keep], hints[:keep]
	if len(hinted) == 0 {
		return nil, nil, nil
	}
	stored, err := tx.LogHashes(ctx, at)
	if err != nil {
		return nil, nil, err
	}
	for j, i := range hinted {
		// Another leaf hash: a transaction that appended the copy
		// rolled back, and another entry took its index.
		if stored[j] == hints[j] {
			seqs, leaves = append(seqs, i+1), append(leaves, hints[j])
		}
	}
	return seqs, leaves, nil
}

// visibleToAny reports whether any of viewers may see e.
func visibleToAny(e *dc.Event, viewers []dc.Actor) bool {
	for _, v := range viewers {
		if e.VisibleTo(v) {
			return true
		}
	}
	return false
}

// replicatedKey is how the body of a copy of another node's entry names
// its origin (withOrigin).
var replicatedKey = []byte(`"replicated"`)

// isCopy reports whether an event is a copy of an entry of another
// node's log: its body carries "replicated" (withOrigin). A node never
// applies a copy, it pulls every entry from its author, so a peer gets a
// copy's leaf hash only: a federated log holds a copy of every version of
// a peer's operation it applied and of every receipt its peers signed,
// and each would cost the peer a parse only to skip it.
// The body is read the way the applying node reads it (encoding/json into
// a struct with a "replicated" field), so a copy is withheld exactly when
// the peer would skip it: by go-json-experiment/json with the options of
// encoding/json's behaviour, in one pass where encoding/json takes two
// (FuzzIsCopy holds it to encoding/json's reading).
func isCopy(e *dc.Event) bool {
	if !bytes.Contains(e.Data, replicatedKey) {
		// Not a body withOrigin wrote (json.Marshal writes the key as
		// is): sent whole, which only costs the peer its parse.
		return false
	}
	var b struct {
		Replicated *PeerOrigin `json:"replicated"`
	}
	return jsonv2.Unmarshal(e.Data, &b, jsonv1.DefaultOptionsV1()) == nil && b.Replicated != nil
}

// NodeKey returns this node's signing key (the newest active log key),
// with its secret half: a federation node signs its requests, checkpoints
// and receipts with it.
func (f Federation) NodeKey(ctx context.Context) (*dc.SigningKey, error) {
	m := f.m
	var k *dc.SigningKey
	err := m.store.View(ctx, func(tx dc.Tx) error {
		keys, err := tx.Keys(ctx)
		if err != nil {
			return err
		}
		active := activeKeys(keys)
		if len(active) == 0 {
			return fmt.Errorf("no active signing key")
		}
		k = active[0]
		return nil
	})
	return k, err
}

// EnsureKey creates the node's signing key if the store has none yet (as
// Load does), for commands that run before any server did.
func (f Federation) EnsureKey(ctx context.Context) error { return f.m.ensureKey(ctx) }

// ReceivedEntry is what a peer node's receipt says it received: entry
// Index of this node's log, of leaf hash LeafHash (base64), version
// Version of operation Operation of party Party.
type ReceivedEntry struct {
	Index     int64
	LeafHash  string
	Operation string
	Party     string
	Version   int
}

// CheckReceivedEntries checks that peer nodes' receipts name entries of
// this node's log as they are: entry Index has the leaf hash LeafHash and
// is version Version of operation Operation of party Party. A receipt
// naming any other entry would not prove that the peer received the
// version. It checks the receipts of a page of a peer's log at once, in
// one read transaction, and returns each one's error (EInvalid if the
// receipt does not name the entry as it is), or the same error for all if
// the store failed.
func (f Federation) CheckReceivedEntries(ctx context.Context, rs []ReceivedEntry) []error {
	return f.checkReceivedEntries(ctx, rs, func(fn func(dc.Tx) error) error { return f.m.store.View(ctx, fn) })
}

// CheckReceivedEntriesIn is CheckReceivedEntries reading in the caller's
// transaction tx.
func (f Federation) CheckReceivedEntriesIn(ctx context.Context, tx dc.Tx, rs []ReceivedEntry) []error {
	return f.checkReceivedEntries(ctx, rs, func(fn func(dc.Tx) error) error { return fn(tx) })
}

// checkReceivedEntries is CheckReceivedEntries reading the store, if it
// must, in the transaction read runs its function in.
func (f Federation) checkReceivedEntries(ctx context.Context, rs []ReceivedEntry, read func(func(dc.Tx) error) error) []error {
	m := f.m
	errs := make([]error, len(rs))
	// The versions the writer remembers logging are checked without a
	// read; the others in one read transaction.
	var unknown []ReceivedEntry
	var at []int
	for i, r := range rs {
		if v, ok := m.writer.logged.at(r.Index); ok {
			errs[i] = checkLogged(v, r)
		} else {
			unknown = append(unknown, r)
			at = append(at, i)
		}
	}
	if len(unknown) == 0 {
		return errs
	}
	for j, err := range m.checkReceivedEntries(ctx, unknown, read) {
		errs[at[j]] = err
	}
	return errs
}

// checkLogged checks a receipt against the version the writer logged at
// its index (CheckReceivedEntries).
func checkLogged(v loggedVersion, r ReceivedEntry) error {
	switch {
	case !leafIs(v.leaf, r.LeafHash):
		return dc.Errorf(dc.EInvalid, "entry %d of this node's log does not have leaf hash %s", r.Index, r.LeafHash)
	case v.op != r.Operation || v.version != r.Version:
		return dc.Errorf(dc.EInvalid, "entry %d of this node's log is not version %d of operation %s", r.Index, r.Version, r.Operation)
	case v.party != r.Party:
		return dc.Errorf(dc.EInvalid, "entry %d of this node's log is an operation of party %s, not of %s", r.Index, v.party, r.Party)
	}
	return nil
}

// checkReceivedEntries checks receipts against the log as stored
// (CheckReceivedEntries), in one transaction (read).
func (m *Mechanism) checkReceivedEntries(ctx context.Context, rs []ReceivedEntry, read func(func(dc.Tx) error) error) []error {
	errs := make([]error, len(rs))
	err := read(func(tx dc.Tx) error {
		// The entries the receipts of a page name are mostly close to
		// each other: read them as one range if it is not much longer.
		lo, hi := int64(-1), int64(-1)
		for _, r := range rs {
			switch {
			case r.Index < 0:
			case lo < 0:
				lo, hi = r.Index, r.Index
			default:
				lo, hi = min(r.Index, lo), max(r.Index, hi)
			}
		}
		var span []*dc.Event
		if n := hi - lo + 1; lo >= 0 && n > 1 && n <= int64(4*len(rs)+16) && n <= MaxPeerLogPage {
			var err error
			if span, err = tx.Events(ctx, lo, int(n)); err != nil {
				return err
			}
		}
		found := make([]*dc.Event, len(rs))
		var leafAt []int64 // storage indexes of the leaf hashes of the entries found
		for i, r := range rs {
			if r.Index < 0 {
				continue
			}
			if k := r.Index - lo; span != nil && k < int64(len(span)) && span[k].Seq == r.Index+1 {
				found[i] = span[k]
			} else {
				evs, err := tx.Events(ctx, r.Index, 1)
				if err != nil {
					return err
				}
				if len(evs) == 1 && evs[0].Seq == r.Index+1 {
					found[i] = evs[0]
				}
			}
			if found[i] != nil {
				leafAt = append(leafAt, tlog.StoredHashIndex(0, r.Index))
			}
		}
		// The log's own leaf hashes, in one read: what a receipt names is
		// the entry as the log holds it.
		var leaves [][32]byte
		if len(leafAt) > 0 {
			var err error
			if leaves, err = tx.LogHashes(ctx, leafAt); err != nil {
				return err
			}
		}
		for i, r := range rs {
			if found[i] == nil {
				errs[i] = dc.Errorf(dc.EInvalid, "entry %d is not in this node's log", r.Index)
				continue
			}
			errs[i] = checkReceived(found[i], leaves[0], r)
			leaves = leaves[1:]
		}
		return nil
	})
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
	}
	return errs
}

// leafIs reports whether leaf is the hash named in base64 by name,
// without building the name of leaf: a page of receipts checks one each.
func leafIs(leaf [32]byte, name string) bool {
	var b [44]byte // base64.StdEncoding.EncodedLen(32)
	base64.StdEncoding.Encode(b[:], leaf[:])
	return string(b[:]) == name
}

// checkReceived checks one receipt against the event at its index and
// the log's leaf hash of it (CheckReceivedEntries).
func checkReceived(e *dc.Event, leaf [32]byte, r ReceivedEntry) error {
	if !leafIs(leaf, r.LeafHash) {
		return dc.Errorf(dc.EInvalid, "entry %d of this node's log does not have leaf hash %s", r.Index, r.LeafHash)
	}
	// Only the operation's ID, party and version are read of the body,
	// which json.Marshal wrote: go-json-experiment/json reads it in one
	// pass where encoding/json takes two.
	var b struct {
		Operation *struct {
			ID      string `json:"id"`
			Party   string `json:"party"`
			Version int    `json:"version"`
		} `json:"operation"`
	}
	if e.Subject == nil || e.Subject.ID != r.Operation || jsonv2.Unmarshal(e.Data, &b) != nil || b.Operation == nil || b.Operation.ID != r.Operation || b.Operation.Version != r.Version {
		return dc.Errorf(dc.EInvalid, "entry %d of this node's log is not version %d of operation %s", r.Index, r.Version, r.Operation)
	}
	if b.Operation.Party != r.Party {
		return dc.Errorf(dc.EInvalid, "entry %d of this node's log is an operation of party %s, not of %s", r.Index, b.Operation.Party, r.Party)
	}
	return nil
}

// peerLogRange checks the first entry a peer asks for and returns the
// most entries it gets: limit, or MaxPeerLogPage if limit is not between
// 1 and that.
func peerLogRange(from int64, limit int) (int, error) {
	if from < 0 {
		return 0, dc.FieldErrorf(dc.EInvalid, "from", "from must be 0 or more")
	}
	if limit <= 0 || limit > MaxPeerLogPage {
		limit = MaxPeerLogPage
	}
	return limit, nil
}
