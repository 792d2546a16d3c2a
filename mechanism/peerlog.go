package mechanism

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"

	dc "github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/record"
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

// PeerLog returns the entries of this node's log from index from (at
// most limit) as a peer hosting parties may see them, with this node's
// signed checkpoint of the log up to the last entry returned, or of the
// whole log when there is nothing from from on, and the log's size.
// What a party may see is what a liaison of it sees on a single server:
// events for every party or for it (never another party's notes: events
// carry the operation as other parties see it).
func (f Federation) PeerLog(ctx context.Context, parties []string, from int64, limit int) (checkpoint []byte, entries []PeerLogEntry, size int64, err error) {
	m := f.m
	if from < 0 {
		return nil, nil, 0, dc.FieldErrorf(dc.EInvalid, "from", "from must be 0 or more")
	}
	if limit <= 0 || limit > MaxPeerLogPage {
		limit = MaxPeerLogPage
	}
	viewers := make([]dc.Actor, len(parties))
	for i, p := range parties {
		viewers[i] = dc.Actor{Party: p, Role: dc.RoleLiaison}
	}
	err = m.store.View(ctx, func(tx dc.Tx) error {
		n, err := tx.LastSeq(ctx)
		if err != nil {
			return err
		}
		size = n
		keys, err := tx.Keys(ctx)
		if err != nil {
			return err
		}
		end := n
		if from < n {
			end = min(n, from+int64(limit))
			evs, err := tx.Events(ctx, from, int(end-from))
			if err != nil {
				return err
			}
			if int64(len(evs)) != end-from {
				return fmt.Errorf("peer log: %d events from %d, want %d", len(evs), from, end-from)
			}
			for _, e := range evs {
				data := record.EntryBytes(e)
				pe := PeerLogEntry{Index: e.Seq - 1, LeafHash: tlog.RecordHash(data)}
				for _, v := range viewers {
					if e.VisibleTo(v) {
						pe.Data = data
						break
					}
				}
				if pe.Data != nil && isCopy(e) {
					pe.Data = nil
				}
				entries = append(entries, pe)
			}
		}
		checkpoint, err = record.Checkpoint(ctx, tx, originOf(keys), end, activeKeys(keys))
		return err
	})
	return checkpoint, entries, size, err
}

// replicatedKey is how the body of a copy of another node's entry names
// its origin (withOrigin).
var replicatedKey = []byte(`"replicated"`)

// isCopy reports whether an event is a copy of an entry of another
// node's log: its body carries "replicated" (withOrigin). A node never
// applies a copy, it pulls every entry from its author, so a peer gets a
// copy's leaf hash only: half the entries of a federated log are such
// copies (a node's record of its peers' declarations, and of the
// receipts they signed), and each would cost the peer a parse to skip.
// The body is read the way the applying node reads it (encoding/json into
// a struct with a "replicated" field), so a copy is withheld exactly when
// the peer would skip it.
func isCopy(e *dc.Event) bool {
	if !bytes.Contains(e.Data, replicatedKey) {
		return false // json.Marshal writes the key as is
	}
	var b struct {
		Replicated *PeerOrigin `json:"replicated"`
	}
	return json.Unmarshal(e.Data, &b) == nil && b.Replicated != nil
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

// CheckReceivedEntry checks that a peer node's receipt names an entry of
// this node's log as it is: entry index has the leaf hash leafHash
// (base64) and is a version version of operation op. A receipt naming
// any other entry would not prove that the peer received the version.
func (f Federation) CheckReceivedEntry(ctx context.Context, index int64, leafHash, op string, version int) error {
	m := f.m
	return m.store.View(ctx, func(tx dc.Tx) error {
		evs, err := tx.Events(ctx, index, 1)
		if err != nil {
			return err
		}
		if index < 0 || len(evs) != 1 || evs[0].Seq != index+1 {
			return dc.Errorf(dc.EInvalid, "entry %d is not in this node's log", index)
		}
		e := evs[0]
		if h := tlog.RecordHash(record.EntryBytes(e)); base64.StdEncoding.EncodeToString(h[:]) != leafHash {
			return dc.Errorf(dc.EInvalid, "entry %d of this node's log does not have leaf hash %s", index, leafHash)
		}
		var b OperationEventData
		if e.Subject == nil || e.Subject.ID != op || json.Unmarshal(e.Data, &b) != nil || b.Operation == nil || b.Operation.ID != op || b.Operation.Version != version {
			return dc.Errorf(dc.EInvalid, "entry %d of this node's log is not version %d of operation %s", index, version, op)
		}
		return nil
	})
}
