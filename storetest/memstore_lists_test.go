package storetest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/deconflict/deconflict"
)

// The records of a memTx that are listed a page at a time, by filters:
// operations, conflicts, events, duties and messages.

// jsonCopy returns a deep copy of *v by way of its JSON: the fields JSON
// leaves out are left zero.
func jsonCopy[T any](v *T) *T {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	var c T
	if err := json.Unmarshal(b, &c); err != nil {
		panic(err)
	}
	return &c
}

// copyOperation returns a deep copy of op, as the store keeps it.
func copyOperation(op *deconflict.Operation) *deconflict.Operation {
	n := *op
	n.CreatedAt, n.UpdatedAt = norm(op.CreatedAt), norm(op.UpdatedAt)
	c := jsonCopy(&n)
	c.Start, c.End, c.Rev = norm(op.Start), norm(op.End), op.Rev
	return c
}

func (tx *memTx) Operation(_ context.Context, id string) (*deconflict.Operation, error) {
	return find(tx.d.ops, func(op *deconflict.Operation) bool { return op.ID == id }, copyOperation, "operation")
}

func (tx *memTx) PutOperation(_ context.Context, op *deconflict.Operation) error {
	return put(tx, &tx.d.ops, op, func(o *deconflict.Operation) bool { return o.ID == op.ID }, copyOperation)
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
	m := jsonCopy(&n)
	for _, mp := range []map[string]*time.Time{m.Acknowledged, m.Waived} {
		for k, v := range mp {
			mp[k] = normPtr(v)
		}
	}
	return m
}

func samePair(c *deconflict.Conflict, op1, op2 string) bool {
	return c.Operations == [2]string{op1, op2} || c.Operations == [2]string{op2, op1}
}

func (tx *memTx) Conflict(_ context.Context, id string) (*deconflict.Conflict, error) {
	return find(tx.d.conflicts, func(c *deconflict.Conflict) bool { return c.ID == id }, copyConflict, "conflict")
}

func (tx *memTx) ConflictByPair(_ context.Context, op1, op2 string) (*deconflict.Conflict, error) {
	return find(tx.d.conflicts, func(c *deconflict.Conflict) bool { return samePair(c, op1, op2) }, copyConflict, "conflict")
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
	return copies(cs, copyConflict), next, err
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

func (tx *memTx) EventsExcept(_ context.Context, after, through int64, skip []int64) ([]*deconflict.Event, error) {
	var es []*deconflict.Event
	for _, e := range tx.d.events {
		if e.Seq > after && e.Seq <= through && !slices.Contains(skip, e.Seq) {
			es = append(es, copyEvent(e))
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

func (tx *memTx) Duties(_ context.Context, f deconflict.DutyFilter) ([]*deconflict.Duty, string, error) {
	ds, next, err := page(tx.d.duties, f.After, f.Limit, func(d *deconflict.Duty) bool {
		return (f.Party == "" || d.Party == f.Party) &&
			(f.Subject == nil || d.Subject == *f.Subject) &&
			(!f.Escalated || d.Level >= deconflict.LevelHeads) &&
			(!f.Open || d.AckedAt == nil)
	})
	return copies(ds, copyDuty), next, err
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

func (tx *memTx) Duty(_ context.Context, id string) (*deconflict.Duty, error) {
	return find(tx.d.duties, func(d *deconflict.Duty) bool { return d.ID == id }, copyDuty, "duty")
}

func (tx *memTx) PutDuty(_ context.Context, d *deconflict.Duty) error {
	return put(tx, &tx.d.duties, d, func(o *deconflict.Duty) bool { return o.ID == d.ID }, copyDuty)
}

// copyMessage returns a deep copy of m, as the store keeps it.
func copyMessage(m *deconflict.Message) *deconflict.Message {
	n := *m
	n.SentAt = norm(m.SentAt)
	c := jsonCopy(&n)
	for k, v := range c.Acknowledged {
		c.Acknowledged[k] = normPtr(v)
	}
	c.From.TokenID = m.From.TokenID
	return c
}

func (tx *memTx) Message(_ context.Context, id string) (*deconflict.Message, error) {
	return find(tx.d.messages, func(m *deconflict.Message) bool { return m.ID == id }, copyMessage, "message")
}

func (tx *memTx) PutMessage(_ context.Context, m *deconflict.Message) error {
	return put(tx, &tx.d.messages, m, func(o *deconflict.Message) bool { return o.ID == m.ID }, copyMessage)
}

func (tx *memTx) Messages(_ context.Context, f deconflict.MessageFilter) ([]*deconflict.Message, string, error) {
	ms, next, err := pageWithin(tx.d.messages, f.After, f.Limit, f.MaxBytes, func(m *deconflict.Message) bool {
		return f.Party == "" || m.From.Party == f.Party || m.Addressed(f.Party)
	})
	return copies(ms, copyMessage), next, err
}
