package mechanism

import (
	"context"
	"sync"

	dc "github.com/deconflict/deconflict"
)

// nodeKeys are the verifier keys this node has signed with, as far as
// this process has read them: every peer request names the key of the
// node it is for, and reading the store's keys for each would cost a
// following peer's every pull a read. A key is never deleted, only
// retired, so a key once read stays the node's; one not yet read is
// looked for in the store.
type nodeKeys struct {
	mu   sync.Mutex
	seen map[string]bool
}

// IsNodeKey reports whether verifier is the verifier key of one of this
// node's signing keys, the active one or a retired one.
func (f Federation) IsNodeKey(ctx context.Context, verifier string) (bool, error) {
	m := f.m
	if m.fed.keys.has(verifier) {
		return true, nil
	}
	var keys []*dc.SigningKey
	err := m.store.View(ctx, func(tx dc.Tx) error {
		var err error
		keys, err = tx.Keys(ctx)
		return err
	})
	if err != nil {
		return false, err
	}
	m.fed.keys.add(keys)
	return m.fed.keys.has(verifier), nil
}

func (k *nodeKeys) has(verifier string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.seen[verifier]
}

func (k *nodeKeys) add(keys []*dc.SigningKey) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.seen == nil {
		k.seen = map[string]bool{}
	}
	for _, key := range keys {
		k.seen[key.Verifier] = true
	}
}
