package storetest_test

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"maps"
	"math"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/deconflict/deconflict"
	"github.com/deconflict/deconflict/storetest"
)

// TestSuite runs the suite on memStore, a store written from the
// interface documentation alone, to check that the suite asks for no more
// than it documents (it shares no code, cursor format or locking scheme
// with package sqlite).
func TestSuite(t *testing.T) {
	storetest.RunFactory(t, storetest.Factory{
		Open: func(t *testing.T) deconflict.Store { return &memStore{d: &memData{}} },
		Reopen: func(t *testing.T, s deconflict.Store) deconflict.Store {
			m := s.(*memStore)
			m.Close()
			return &memStore{d: m.d}
		},
	})
}

// memStore keeps everything in memory. Updates take the lock for writing
// and work on a copy, which they install on success; Views hold the lock
// for reading, so an Update waits for them.
type memStore struct {
	mu sync.RWMutex
	d  *memData
}

// memData is one state of a memStore. Its records are never changed in
// place: a change replaces them.
type memData struct {
	parties   []*deconflict.Party
	tokens    []*deconflict.Token
	settings  *deconflict.Settings
	ops       []*deconflict.Operation // in the order first stored
	conflicts []*deconflict.Conflict
	events    []*deconflict.Event
	duties    []*deconflict.Duty // in the order first stored
	messages  []*deconflict.Message
	webhooks  []*deconflict.Webhook // in no order
	logHashes map[int64][32]byte
	keys      []*deconflict.SigningKey // in the order first stored
	meta      map[string][]byte
}

func (m *memStore) Update(ctx context.Context, fn func(deconflict.Tx) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	d := *m.d
	d.parties, d.tokens, d.ops = slices.Clone(d.parties), slices.Clone(d.tokens), slices.Clone(d.ops)
	d.conflicts, d.events = slices.Clone(d.conflicts), slices.Clone(d.events)
	d.duties, d.messages, d.webhooks = slices.Clone(d.duties), slices.Clone(d.messages), slices.Clone(d.webhooks)
	d.logHashes, d.keys = maps.Clone(d.logHashes), slices.Clone(d.keys)
	d.meta = maps.Clone(d.meta)
	if err := fn(&memTx{d: &d, write: true}); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.d = &d
	return nil
}

func (m *memStore) View(ctx context.Context, fn func(deconflict.Tx) error) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return fn(&memTx{d: m.d})
}

func (m *memStore) Ping(context.Context) error { return nil }
func (m *memStore) Close() error               { return nil }

type memTx struct {
	d     *memData
	write bool
}

var errReadOnly = errors.New("write in a read-only transaction")

func notFound(what string) error {
	return deconflict.Errorf(deconflict.ENotFound, "%s not found", what)
}

// norm returns t as the store keeps it.
func norm(t time.Time) time.Time { return time.UnixMicro(t.UnixMicro()).UTC() }

func normPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	n := norm(*t)
	return &n
}

// find returns a copy (cp) of the first item of all that is, or ENotFound
// naming what.
func find[T any](all []T, is func(T) bool, cp func(T) T, what string) (T, error) {
	if i := slices.IndexFunc(all, is); i >= 0 {
		return cp(all[i]), nil
	}
	var zero T
	return zero, notFound(what)
}

// put puts a copy (cp) of v in place of the first item of *all that is,
// or after the last if none is; in a read-only transaction it fails.
func put[T any](tx *memTx, all *[]T, v T, is func(T) bool, cp func(T) T) error {
	if !tx.write {
		return errReadOnly
	}
	if i := slices.IndexFunc(*all, is); i >= 0 {
		(*all)[i] = cp(v)
	} else {
		*all = append(*all, cp(v))
	}
	return nil
}

// copies returns a copy (cp) of each item of all, nil for none.
func copies[T any](all []T, cp func(T) T) []T {
	var out []T
	for _, v := range all {
		out = append(out, cp(v))
	}
	return out
}

// copyParty returns a copy of p.
func copyParty(p *deconflict.Party) *deconflict.Party {
	c := *p
	return &c
}

func (tx *memTx) CreateParty(_ context.Context, p *deconflict.Party) error {
	if !tx.write {
		return errReadOnly
	}
	if slices.ContainsFunc(tx.d.parties, func(q *deconflict.Party) bool { return q.ID == p.ID }) {
		return deconflict.Errorf(deconflict.EExists, "party exists")
	}
	c := *p
	c.CreatedAt = norm(p.CreatedAt)
	c.Keys = slices.Clone(p.Keys)
	if len(c.Keys) == 0 {
		c.Keys = nil
	}
	tx.d.parties = append(tx.d.parties, &c)
	return nil
}

func (tx *memTx) Party(_ context.Context, id string) (*deconflict.Party, error) {
	return find(tx.d.parties, func(p *deconflict.Party) bool { return p.ID == id }, copyParty, "party")
}

func (tx *memTx) PutPartyKeys(_ context.Context, id string, keys []string) error {
	if !tx.write {
		return errReadOnly
	}
	for i, p := range tx.d.parties {
		if p.ID == id {
			c := *p
			c.Keys = slices.Clone(keys)
			if len(c.Keys) == 0 {
				c.Keys = nil
			}
			tx.d.parties[i] = &c
			return nil
		}
	}
	return notFound("party")
}

func (tx *memTx) Parties(context.Context) ([]*deconflict.Party, error) {
	return copies(tx.d.parties, copyParty), nil
}

func copyToken(t *deconflict.Token) *deconflict.Token {
	c := *t
	c.Hash = bytes.Clone(t.Hash)
	c.CreatedAt = norm(t.CreatedAt)
	c.RevokedAt = normPtr(t.RevokedAt)
	return &c
}

func (tx *memTx) CreateToken(_ context.Context, t *deconflict.Token) error {
	if !tx.write {
		return errReadOnly
	}
	if slices.ContainsFunc(tx.d.tokens, func(u *deconflict.Token) bool { return u.ID == t.ID || bytes.Equal(u.Hash, t.Hash) }) {
		return deconflict.Errorf(deconflict.EExists, "token exists")
	}
	tx.d.tokens = append(tx.d.tokens, copyToken(t))
	return nil
}

func (tx *memTx) TokenByHash(_ context.Context, hash []byte) (*deconflict.Token, error) {
	return find(tx.d.tokens, func(t *deconflict.Token) bool { return bytes.Equal(t.Hash, hash) && hash != nil }, copyToken, "token")
}

func (tx *memTx) Tokens(context.Context) ([]*deconflict.Token, error) {
	return copies(tx.d.tokens, copyToken), nil
}

func (tx *memTx) RevokeToken(_ context.Context, id string, at time.Time) error {
	if !tx.write {
		return errReadOnly
	}
	for i, t := range tx.d.tokens {
		if t.ID == id {
			c := copyToken(t)
			if c.RevokedAt == nil { // a revocation keeps its first time
				c.RevokedAt = normPtr(&at)
			}
			tx.d.tokens[i] = c
			return nil
		}
	}
	return notFound("token")
}

func (tx *memTx) Settings(context.Context) (deconflict.Settings, error) {
	if tx.d.settings == nil {
		return deconflict.DefaultSettings(), nil
	}
	return *tx.d.settings, nil
}

func (tx *memTx) PutSettings(_ context.Context, s deconflict.Settings) error {
	if !tx.write {
		return errReadOnly
	}
	tx.d.settings = &s
	return nil
}

func (tx *memTx) Meta(_ context.Context, name string) ([]byte, error) {
	v, ok := tx.d.meta[name]
	if !ok {
		return nil, deconflict.Errorf(deconflict.ENotFound, "no meta value %q", name)
	}
	return bytes.Clone(v), nil
}

func (tx *memTx) PutMeta(_ context.Context, name string, value []byte) error {
	if !tx.write {
		return errReadOnly
	}
	if tx.d.meta == nil {
		tx.d.meta = map[string][]byte{}
	}
	tx.d.meta[name] = bytes.Clone(value)
	return nil
}

func copyWebhook(w *deconflict.Webhook) *deconflict.Webhook {
	c := *w
	c.Events = slices.Clone(w.Events)
	c.CreatedAt, c.UpdatedAt = norm(w.CreatedAt), norm(w.UpdatedAt)
	c.Delivery = copyDelivery(w.Delivery)
	return &c
}

func copyDelivery(d deconflict.Delivery) deconflict.Delivery {
	d.LastAttempt, d.NextAttempt, d.FailingSince = normPtr(d.LastAttempt), normPtr(d.NextAttempt), normPtr(d.FailingSince)
	return d
}

// webhook returns the index of the party's webhook with the name, or -1.
func (tx *memTx) webhook(party, name string) int {
	return slices.IndexFunc(tx.d.webhooks, func(w *deconflict.Webhook) bool { return w.Party == party && w.Name == name })
}

func (tx *memTx) Webhook(_ context.Context, party, name string) (*deconflict.Webhook, error) {
	if i := tx.webhook(party, name); i >= 0 {
		return copyWebhook(tx.d.webhooks[i]), nil
	}
	return nil, notFound("webhook")
}

func (tx *memTx) PutWebhook(_ context.Context, w *deconflict.Webhook) error {
	return put(tx, &tx.d.webhooks, w, func(o *deconflict.Webhook) bool { return o.Party == w.Party && o.Name == w.Name }, copyWebhook)
}

func (tx *memTx) PutDelivery(_ context.Context, party, name string, d deconflict.Delivery) error {
	if !tx.write {
		return errReadOnly
	}
	i := tx.webhook(party, name)
	if i < 0 {
		return notFound("webhook")
	}
	c := copyWebhook(tx.d.webhooks[i])
	c.Delivery = copyDelivery(d)
	tx.d.webhooks[i] = c
	return nil
}

func (tx *memTx) Webhooks(_ context.Context, party string) ([]*deconflict.Webhook, error) {
	var ws []*deconflict.Webhook
	for _, w := range tx.d.webhooks {
		if party == "" || w.Party == party {
			ws = append(ws, copyWebhook(w))
		}
	}
	slices.SortFunc(ws, func(a, b *deconflict.Webhook) int {
		return cmp.Or(cmp.Compare(a.Party, b.Party), cmp.Compare(a.Name, b.Name))
	})
	return ws, nil
}

func (tx *memTx) DeleteWebhook(_ context.Context, party, name string) error {
	if !tx.write {
		return errReadOnly
	}
	i := tx.webhook(party, name)
	if i < 0 {
		return notFound("webhook")
	}
	tx.d.webhooks = slices.Delete(tx.d.webhooks, i, i+1)
	return nil
}

func (tx *memTx) PutLogHashes(_ context.Context, start int64, hashes [][32]byte) error {
	if !tx.write {
		return errReadOnly
	}
	if start < 0 || int64(len(hashes)) > math.MaxInt64-start {
		return deconflict.Errorf(deconflict.EInvalid, "log index out of range")
	}
	for i := range hashes {
		if idx := start + int64(i); tx.d.logHashes != nil {
			if _, ok := tx.d.logHashes[idx]; ok {
				return deconflict.Errorf(deconflict.EExists, "log hash %d exists", idx)
			}
		}
	}
	if len(hashes) > 0 && tx.d.logHashes == nil {
		tx.d.logHashes = map[int64][32]byte{}
	}
	for i, h := range hashes {
		tx.d.logHashes[start+int64(i)] = h
	}
	return nil
}

func (tx *memTx) LogHashes(_ context.Context, indexes []int64) ([][32]byte, error) {
	hs := make([][32]byte, len(indexes))
	for i, idx := range indexes {
		h, ok := tx.d.logHashes[idx]
		if !ok {
			return nil, notFound("log hash " + strconv.FormatInt(idx, 10))
		}
		hs[i] = h
	}
	return hs, nil
}

func copyKey(k *deconflict.SigningKey) *deconflict.SigningKey {
	c := *k
	c.CreatedAt, c.RetiredAt = norm(k.CreatedAt), normPtr(k.RetiredAt)
	return &c
}

func (tx *memTx) PutKey(_ context.Context, k *deconflict.SigningKey) error {
	return put(tx, &tx.d.keys, k, func(o *deconflict.SigningKey) bool { return o.Name == k.Name }, copyKey)
}

func (tx *memTx) Keys(context.Context) ([]*deconflict.SigningKey, error) {
	return copies(tx.d.keys, copyKey), nil
}
