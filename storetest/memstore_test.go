package storetest_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
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
	for _, p := range tx.d.parties {
		if p.ID == id {
			c := *p
			return &c, nil
		}
	}
	return nil, notFound("party")
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
	var ps []*deconflict.Party
	for _, p := range tx.d.parties {
		c := *p
		ps = append(ps, &c)
	}
	return ps, nil
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
	for _, t := range tx.d.tokens {
		if bytes.Equal(t.Hash, hash) && hash != nil {
			return copyToken(t), nil
		}
	}
	return nil, notFound("token")
}

func (tx *memTx) Tokens(context.Context) ([]*deconflict.Token, error) {
	var ts []*deconflict.Token
	for _, t := range tx.d.tokens {
		ts = append(ts, copyToken(t))
	}
	return ts, nil
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

// copyOperation returns a deep copy of op, as the store keeps it.
func copyOperation(op *deconflict.Operation) *deconflict.Operation {
	n := *op
	n.CreatedAt, n.UpdatedAt = norm(op.CreatedAt), norm(op.UpdatedAt)
	b, err := json.Marshal(&n)
	if err != nil {
		panic(err)
	}
	var c deconflict.Operation
	if err := json.Unmarshal(b, &c); err != nil {
		panic(err)
	}
	c.Start, c.End, c.Rev = norm(op.Start), norm(op.End), op.Rev
	return &c
}

func (tx *memTx) Operation(_ context.Context, id string) (*deconflict.Operation, error) {
	for _, op := range tx.d.ops {
		if op.ID == id {
			return copyOperation(op), nil
		}
	}
	return nil, notFound("operation")
}

func (tx *memTx) PutOperation(_ context.Context, op *deconflict.Operation) error {
	if !tx.write {
		return errReadOnly
	}
	c := copyOperation(op)
	for i, o := range tx.d.ops {
		if o.ID == op.ID {
			tx.d.ops[i] = c
			return nil
		}
	}
	tx.d.ops = append(tx.d.ops, c)
	return nil
}

// page returns the items of all from the cursor on that keep, up to limit,
// and the next cursor: the index of the next item to look at.
func page[T any](all []T, after string, limit int, keep func(T) bool) ([]T, string, error) {
	return pageWithin(all, after, limit, 0, keep)
}

// pageWithin is page, ending early once the items' JSON passes maxBytes.
func pageWithin[T any](all []T, after string, limit, maxBytes int, keep func(T) bool) ([]T, string, error) {
	start := 0
	if after != "" {
		n, err := strconv.Atoi(after)
		if err != nil || n <= 0 || n > len(all) {
			return nil, "", deconflict.FieldErrorf(deconflict.EInvalid, "after", "bad cursor")
		}
		start = n
	}
	if limit <= 0 {
		limit = 1000
	}
	var out []T
	size, last := 0, 0
	for i := start; i < len(all); i++ {
		if !keep(all[i]) {
			continue
		}
		if len(out) == limit || (maxBytes > 0 && size > maxBytes) {
			return out, strconv.Itoa(last), nil
		}
		out, last = append(out, all[i]), i+1
		b, _ := json.Marshal(all[i])
		size += len(b)
	}
	return out, "", nil
}

func (tx *memTx) Operations(_ context.Context, f deconflict.OperationFilter) ([]*deconflict.Operation, string, error) {
	ops, next, err := pageWithin(tx.d.ops, f.After, f.Limit, f.MaxBytes, func(op *deconflict.Operation) bool {
		return (f.Party == "" || op.Party == f.Party) &&
			(len(f.States) == 0 || slices.Contains(f.States, op.State)) &&
			(f.Start.IsZero() || !op.End.Before(norm(f.Start))) &&
			(f.End.IsZero() || !op.Start.After(norm(f.End))) &&
			(f.IDs == nil || slices.Contains(f.IDs, op.ID)) &&
			(f.Match == nil || f.Match(copyOperation(op)))
	})
	for i, op := range ops {
		ops[i] = copyOperation(op)
	}
	return ops, next, err
}

func (tx *memTx) OperationsSince(_ context.Context, rev int64, liveOnly bool, fn func(*deconflict.Operation) error) error {
	var ops []*deconflict.Operation
	for _, op := range tx.d.ops {
		if op.Rev > rev && (!liveOnly || op.State.Live()) {
			ops = append(ops, copyOperation(op))
		}
	}
	slices.SortStableFunc(ops, func(a, b *deconflict.Operation) int { return int(a.Rev - b.Rev) })
	for _, op := range ops {
		if err := fn(op); err != nil {
			return err
		}
	}
	return nil
}

func copyConflict(c *deconflict.Conflict) *deconflict.Conflict {
	n := *c
	n.DetectedAt, n.ClosedAt, n.UpdatedAt = norm(c.DetectedAt), normPtr(c.ClosedAt), norm(c.UpdatedAt)
	b, err := json.Marshal(&n)
	if err != nil {
		panic(err)
	}
	var m deconflict.Conflict
	if err := json.Unmarshal(b, &m); err != nil {
		panic(err)
	}
	for _, mp := range []map[string]*time.Time{m.Acknowledged, m.Waived} {
		for k, v := range mp {
			mp[k] = normPtr(v)
		}
	}
	return &m
}

func samePair(c *deconflict.Conflict, op1, op2 string) bool {
	return c.Operations == [2]string{op1, op2} || c.Operations == [2]string{op2, op1}
}

func (tx *memTx) Conflict(_ context.Context, id string) (*deconflict.Conflict, error) {
	for _, c := range tx.d.conflicts {
		if c.ID == id {
			return copyConflict(c), nil
		}
	}
	return nil, notFound("conflict")
}

func (tx *memTx) ConflictByPair(_ context.Context, op1, op2 string) (*deconflict.Conflict, error) {
	for _, c := range tx.d.conflicts {
		if samePair(c, op1, op2) {
			return copyConflict(c), nil
		}
	}
	return nil, notFound("conflict")
}

func (tx *memTx) ConflictsOf(_ context.Context, opID string) ([]*deconflict.Conflict, error) {
	var cs []*deconflict.Conflict
	for _, c := range tx.d.conflicts {
		if c.Operations[0] == opID || c.Operations[1] == opID {
			cs = append(cs, copyConflict(c))
		}
	}
	return cs, nil
}

func (tx *memTx) PutConflict(_ context.Context, c *deconflict.Conflict) error {
	if !tx.write {
		return errReadOnly
	}
	at := -1
	for i, o := range tx.d.conflicts {
		if o.ID == c.ID {
			at = i
		} else if samePair(o, c.Operations[0], c.Operations[1]) {
			return deconflict.Errorf(deconflict.EExists, "pair has a conflict")
		}
	}
	if at < 0 {
		tx.d.conflicts = append(tx.d.conflicts, copyConflict(c))
	} else {
		tx.d.conflicts[at] = copyConflict(c)
	}
	return nil
}

func (tx *memTx) Conflicts(_ context.Context, f deconflict.ConflictFilter) ([]*deconflict.Conflict, string, error) {
	cs, next, err := pageWithin(tx.d.conflicts, f.After, f.Limit, f.MaxBytes, func(c *deconflict.Conflict) bool {
		return (f.Party == "" || c.Involves(f.Party)) && (len(f.Statuses) == 0 || slices.Contains(f.Statuses, c.Status))
	})
	for i, c := range cs {
		cs[i] = copyConflict(c)
	}
	return cs, next, err
}

func copyEvent(e *deconflict.Event) *deconflict.Event {
	c := *e
	c.Time = norm(e.Time)
	c.Audience = slices.Clone(e.Audience)
	c.Data = bytes.Clone(e.Data)
	if e.Subject != nil {
		s := *e.Subject
		c.Subject = &s
	}
	return &c
}

func (tx *memTx) AppendEvent(_ context.Context, e *deconflict.Event) error {
	if !tx.write {
		return errReadOnly
	}
	e.Seq = int64(len(tx.d.events) + 1)
	tx.d.events = append(tx.d.events, copyEvent(e))
	return nil
}

func (tx *memTx) Events(ctx context.Context, after int64, limit int) ([]*deconflict.Event, error) {
	return tx.EventsWithin(ctx, after, limit, 0)
}

func (tx *memTx) EventsWithin(_ context.Context, after int64, limit, maxBytes int) ([]*deconflict.Event, error) {
	if limit <= 0 {
		limit = 1000
	}
	var es []*deconflict.Event
	size := 0
	for _, e := range tx.d.events {
		if e.Seq > after && len(es) < limit && (maxBytes <= 0 || size <= maxBytes) {
			es = append(es, copyEvent(e))
			size += len(e.Data)
		}
	}
	return es, nil
}

func (tx *memTx) LastSeq(context.Context) (int64, error) { return int64(len(tx.d.events)), nil }

func copyDuty(d *deconflict.Duty) *deconflict.Duty {
	c := *d
	c.CreatedAt = norm(d.CreatedAt)
	c.DueAt, c.AckedAt, c.RaisedAt, c.ClearedAt = normPtr(d.DueAt), normPtr(d.AckedAt), normPtr(d.RaisedAt), normPtr(d.ClearedAt)
	return &c
}

func (tx *memTx) Duty(_ context.Context, id string) (*deconflict.Duty, error) {
	for _, d := range tx.d.duties {
		if d.ID == id {
			return copyDuty(d), nil
		}
	}
	return nil, notFound("duty")
}

func (tx *memTx) PutDuty(_ context.Context, d *deconflict.Duty) error {
	if !tx.write {
		return errReadOnly
	}
	for i, o := range tx.d.duties {
		if o.ID == d.ID {
			tx.d.duties[i] = copyDuty(d)
			return nil
		}
	}
	tx.d.duties = append(tx.d.duties, copyDuty(d))
	return nil
}

func (tx *memTx) Duties(_ context.Context, f deconflict.DutyFilter) ([]*deconflict.Duty, string, error) {
	ds, next, err := page(tx.d.duties, f.After, f.Limit, func(d *deconflict.Duty) bool {
		return (f.Party == "" || d.Party == f.Party) &&
			(f.Subject == nil || d.Subject == *f.Subject) &&
			(!f.Escalated || d.Level >= deconflict.LevelHeads) &&
			(!f.Open || d.AckedAt == nil)
	})
	for i, d := range ds {
		ds[i] = copyDuty(d)
	}
	return ds, next, err
}

func (tx *memTx) DutiesDue(_ context.Context, now time.Time, limit int) ([]*deconflict.Duty, error) {
	if limit <= 0 {
		limit = 1000
	}
	var ds []*deconflict.Duty
	for _, d := range tx.d.duties {
		if d.AckedAt == nil && d.DueAt != nil && !d.DueAt.After(now) {
			ds = append(ds, copyDuty(d))
		}
	}
	slices.SortStableFunc(ds, func(a, b *deconflict.Duty) int { return a.DueAt.Compare(*b.DueAt) })
	return ds[:min(limit, len(ds))], nil
}

// copyMessage returns a deep copy of m, as the store keeps it.
func copyMessage(m *deconflict.Message) *deconflict.Message {
	n := *m
	n.SentAt = norm(m.SentAt)
	b, err := json.Marshal(&n)
	if err != nil {
		panic(err)
	}
	var c deconflict.Message
	if err := json.Unmarshal(b, &c); err != nil {
		panic(err)
	}
	for k, v := range c.Acknowledged {
		c.Acknowledged[k] = normPtr(v)
	}
	c.From.TokenID = m.From.TokenID
	return &c
}

func (tx *memTx) Message(_ context.Context, id string) (*deconflict.Message, error) {
	for _, m := range tx.d.messages {
		if m.ID == id {
			return copyMessage(m), nil
		}
	}
	return nil, notFound("message")
}

func (tx *memTx) PutMessage(_ context.Context, m *deconflict.Message) error {
	if !tx.write {
		return errReadOnly
	}
	for i, o := range tx.d.messages {
		if o.ID == m.ID {
			tx.d.messages[i] = copyMessage(m)
			return nil
		}
	}
	tx.d.messages = append(tx.d.messages, copyMessage(m))
	return nil
}

func (tx *memTx) Messages(_ context.Context, f deconflict.MessageFilter) ([]*deconflict.Message, string, error) {
	ms, next, err := pageWithin(tx.d.messages, f.After, f.Limit, f.MaxBytes, func(m *deconflict.Message) bool {
		return f.Party == "" || m.From.Party == f.Party || m.Addressed(f.Party)
	})
	for i, m := range ms {
		ms[i] = copyMessage(m)
	}
	return ms, next, err
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
	if !tx.write {
		return errReadOnly
	}
	if i := tx.webhook(w.Party, w.Name); i >= 0 {
		tx.d.webhooks[i] = copyWebhook(w)
	} else {
		tx.d.webhooks = append(tx.d.webhooks, copyWebhook(w))
	}
	return nil
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
	if !tx.write {
		return errReadOnly
	}
	for i, o := range tx.d.keys {
		if o.Name == k.Name {
			tx.d.keys[i] = copyKey(k)
			return nil
		}
	}
	tx.d.keys = append(tx.d.keys, copyKey(k))
	return nil
}

func (tx *memTx) Keys(context.Context) ([]*deconflict.SigningKey, error) {
	var ks []*deconflict.SigningKey
	for _, k := range tx.d.keys {
		ks = append(ks, copyKey(k))
	}
	return ks, nil
}
