package storeval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/deconflict/deconflict"
)

// A Querier runs statements in one transaction of a store.
type Querier interface {
	// QueryRow gives the one row of a query's answer, which scans as
	// the driver's "no rows" error (Dialect.NoRows) if there is none.
	QueryRow(ctx context.Context, query string, args ...any) Row
	// Exec runs a statement and returns the number of rows it changed.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	// Query runs a query and returns the rows of its answer, which the
	// caller closes.
	Query(ctx context.Context, query string, args ...any) (ClosingRows, error)
}

// ClosingRows are the rows of an answer that hold the connection until
// closed.
type ClosingRows interface {
	Rows
	Close()
}

// Tx holds the methods of deconflict.Tx that both stores implement alike,
// on Q, a transaction of a store, in its dialect D: the lookups by key
// (ENotFound if there is no such thing) and the writes of one row whose
// statements the two engines take alike. Each store's tx embeds it, and
// defines in its place those of its methods it runs its own way.
type Tx struct {
	Q Querier
	D Dialect
}

// found returns v, read with err: ENotFound made by notFound if there was
// no row, a "select what" error for any other.
func found[T any](l Tx, v T, err error, notFound func() error, what string) (T, error) {
	var zero T
	switch {
	case errors.Is(err, l.D.NoRows):
		return zero, notFound()
	case err != nil:
		return zero, fmt.Errorf("select %s: %w", what, err)
	}
	return v, nil
}

func (l Tx) one(ctx context.Context, columns, table, key string, args ...any) Row {
	return l.Q.QueryRow(ctx, "SELECT "+columns+" FROM "+table+" WHERE "+key, args...)
}

// Operation returns the operation with the ID.
func (l Tx) Operation(ctx context.Context, id string) (*deconflict.Operation, error) {
	op, _, err := ScanOperation(l.one(ctx, OperationColumns, "operations", "id = "+l.D.Param(1), id))
	return found(l, op, err, func() error { return deconflict.Errorf(deconflict.ENotFound, "operation %q not found", id) }, "operation "+id)
}

// Conflict returns the conflict with the ID.
func (l Tx) Conflict(ctx context.Context, id string) (*deconflict.Conflict, error) {
	c, _, err := ScanConflict(l.one(ctx, "seq, doc", "conflicts", "id = "+l.D.Param(1), id))
	return found(l, c, err, func() error { return deconflict.Errorf(deconflict.ENotFound, "conflict %q not found", id) }, "conflict "+id)
}

// ConflictByPair returns the conflict of two operations, named in either
// order.
func (l Tx) ConflictByPair(ctx context.Context, op1, op2 string) (*deconflict.Conflict, error) {
	lo, hi := Pair(op1, op2)
	c, _, err := ScanConflict(l.one(ctx, "seq, doc", "conflicts", "op_lo = "+l.D.Param(1)+" AND op_hi = "+l.D.Param(2), lo, hi))
	return found(l, c, err, func() error {
		return deconflict.Errorf(deconflict.ENotFound, "no conflict of operations %q and %q", op1, op2)
	}, "conflict of "+op1+" and "+op2)
}

// Duty returns the duty with the ID.
func (l Tx) Duty(ctx context.Context, id string) (*deconflict.Duty, error) {
	d, _, err := ScanDuty(l.one(ctx, DutyColumns, "duties", "id = "+l.D.Param(1), id))
	return found(l, d, err, func() error { return deconflict.Errorf(deconflict.ENotFound, "duty %q not found", id) }, "duty "+id)
}

// Message returns the hotline message with the ID.
func (l Tx) Message(ctx context.Context, id string) (*deconflict.Message, error) {
	m, _, err := ScanMessage(l.one(ctx, MessageColumns, "messages", "id = "+l.D.Param(1), id))
	return found(l, m, err, func() error { return deconflict.Errorf(deconflict.ENotFound, "message %q not found", id) }, "message "+id)
}

// Party returns the party with the ID.
func (l Tx) Party(ctx context.Context, id string) (*deconflict.Party, error) {
	p, err := ScanParty(l.one(ctx, PartyColumns, "parties", "id = "+l.D.Param(1), id))
	return found(l, p, err, func() error { return deconflict.Errorf(deconflict.ENotFound, "party %q not found", id) }, "party "+id)
}

// TokenByHash returns the token with the hash.
func (l Tx) TokenByHash(ctx context.Context, hash []byte) (*deconflict.Token, error) {
	tok, err := ScanToken(l.one(ctx, TokenColumns, "tokens", "hash = "+l.D.Param(1), hash))
	return found(l, tok, err, func() error { return deconflict.Errorf(deconflict.ENotFound, "token not found") }, "token by hash")
}

// Webhook returns the webhook of the party with the name, with its
// secret.
func (l Tx) Webhook(ctx context.Context, party, name string) (*deconflict.Webhook, error) {
	w, err := ScanWebhook(l.one(ctx, WebhookColumns, "webhooks", "party = "+l.D.Param(1)+" AND name = "+l.D.Param(2), party, name))
	return found(l, w, err, func() error {
		return deconflict.Errorf(deconflict.ENotFound, "webhook %q of party %q not found", name, party)
	}, "webhook "+party+"/"+name)
}

// Conflicts lists the conflicts that pass the filter, in the order they
// were first stored, a page at a time.
func (l Tx) Conflicts(ctx context.Context, f deconflict.ConflictFilter) ([]*deconflict.Conflict, string, error) {
	after, err := DecodeCursor(f.After)
	if err != nil {
		return nil, "", err
	}
	limit := PageSize(f.Limit)
	where, args := ConflictsWhere(l.D, f, after)
	// One more than the page, to know whether another page follows.
	q := "SELECT seq, doc FROM conflicts WHERE " + where + " ORDER BY seq LIMIT " + args.Add(limit+1)
	return Page(ctx, l.Q, "conflicts", q, args.Values, limit, f.MaxBytes, ScanConflict)
}

// changed returns nil if n rows changed, notFound if none did, and a "what"
// error for err.
func changed(n int64, err error, notFound func() error, what string) error {
	switch {
	case err != nil:
		return fmt.Errorf("%s: %w", what, err)
	case n == 0:
		return notFound()
	}
	return nil
}

// CreateParty stores a new party; EExists if its ID is taken.
func (l Tx) CreateParty(ctx context.Context, p *deconflict.Party) error {
	keys, err := json.Marshal(NonNil(p.Keys))
	if err != nil {
		return fmt.Errorf("encode keys of party %s: %w", p.ID, err)
	}
	n, err := l.Q.Exec(ctx, `INSERT INTO parties (`+PartyColumns+`) VALUES (`+l.D.Params(4)+`)
		ON CONFLICT DO NOTHING`, p.ID, p.Name, Micros(p.CreatedAt), string(keys))
	return changed(n, err, func() error { return deconflict.Errorf(deconflict.EExists, "party %q exists", p.ID) }, "insert party "+p.ID)
}

// PutPartyKeys replaces the keys of a party; ENotFound if there is none.
func (l Tx) PutPartyKeys(ctx context.Context, id string, keys []string) error {
	b, err := json.Marshal(NonNil(keys))
	if err != nil {
		return fmt.Errorf("encode keys of party %s: %w", id, err)
	}
	n, err := l.Q.Exec(ctx, "UPDATE parties SET keys = "+l.D.Param(1)+" WHERE id = "+l.D.Param(2), string(b), id)
	return changed(n, err, func() error { return deconflict.Errorf(deconflict.ENotFound, "party %q not found", id) }, "update keys of party "+id)
}

// CreateToken stores a new token; EExists if its ID or hash is taken.
func (l Tx) CreateToken(ctx context.Context, tok *deconflict.Token) error {
	var revoked any // NULL
	if tok.RevokedAt != nil {
		revoked = Micros(*tok.RevokedAt)
	}
	n, err := l.Q.Exec(ctx, `INSERT INTO tokens (`+TokenColumns+`) VALUES (`+l.D.Params(7)+`)
		ON CONFLICT DO NOTHING`,
		tok.ID, tok.Hash, string(tok.Role), tok.Party, tok.Label, Micros(tok.CreatedAt), revoked)
	return changed(n, err, func() error { return deconflict.Errorf(deconflict.EExists, "token %q or its hash exists", tok.ID) }, "insert token "+tok.ID)
}

// RevokeToken marks the token revoked at the time; ENotFound if there is
// none. A token revoked before keeps its first revocation time.
func (l Tx) RevokeToken(ctx context.Context, id string, at time.Time) error {
	n, err := l.Q.Exec(ctx, "UPDATE tokens SET revoked_at = coalesce(revoked_at, "+l.D.Param(1)+") WHERE id = "+l.D.Param(2), Micros(at), id)
	return changed(n, err, func() error { return deconflict.Errorf(deconflict.ENotFound, "token %q not found", id) }, "revoke token "+id)
}

// PutWebhook inserts the webhook or replaces the one with its party and
// name, every field of it.
func (l Tx) PutWebhook(ctx context.Context, w *deconflict.Webhook) error {
	q, args, err := putWebhook(l.D, w)
	if err != nil {
		return err
	}
	if _, err := l.Q.Exec(ctx, q, args...); err != nil {
		return fmt.Errorf("put webhook %s/%s: %w", w.Party, w.Name, err)
	}
	return nil
}

// PutDelivery replaces the delivery state of a webhook and nothing else;
// ENotFound if there is no such webhook.
func (l Tx) PutDelivery(ctx context.Context, party, name string, d deconflict.Delivery) error {
	delivery, err := EncodeDelivery(d)
	if err != nil {
		return fmt.Errorf("encode webhook %s/%s delivery: %w", party, name, err)
	}
	n, err := l.Q.Exec(ctx, "UPDATE webhooks SET delivery = "+l.D.Param(1)+" WHERE party = "+l.D.Param(2)+" AND name = "+l.D.Param(3), delivery, party, name)
	return changed(n, err, func() error {
		return deconflict.Errorf(deconflict.ENotFound, "webhook %q of party %q not found", name, party)
	}, "put webhook "+party+"/"+name+" delivery")
}

// DeleteWebhook removes the webhook of the party with the name; ENotFound
// if there is none.
func (l Tx) DeleteWebhook(ctx context.Context, party, name string) error {
	n, err := l.Q.Exec(ctx, "DELETE FROM webhooks WHERE party = "+l.D.Param(1)+" AND name = "+l.D.Param(2), party, name)
	return changed(n, err, func() error {
		return deconflict.Errorf(deconflict.ENotFound, "webhook %q of party %q not found", name, party)
	}, "delete webhook "+party+"/"+name)
}

// Meta returns the value kept under name.
func (l Tx) Meta(ctx context.Context, name string) ([]byte, error) {
	var v []byte
	err := l.Q.QueryRow(ctx, "SELECT value FROM meta WHERE name = "+l.D.Param(1), name).Scan(&v)
	if v == nil {
		v = []byte{}
	}
	return found(l, v, err, func() error { return deconflict.Errorf(deconflict.ENotFound, "no meta value %q", name) }, "meta "+strconv.Quote(name))
}

// PutMeta keeps value under name, in place of any value before.
func (l Tx) PutMeta(ctx context.Context, name string, value []byte) error {
	if value == nil {
		value = []byte{}
	}
	if _, err := l.Q.Exec(ctx, `INSERT INTO meta (name, value) VALUES (`+l.D.Params(2)+`)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, value); err != nil {
		return fmt.Errorf("put meta %q: %w", name, err)
	}
	return nil
}
