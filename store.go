package deconflict

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Store persists the mechanism's state. It holds no rules: it stores and
// queries, and the mechanism decides. Every store passes the conformance
// suite in package storetest.
type Store interface {
	// Update runs fn in a read-write transaction. Write transactions are
	// serialised with every other writer of the same store, also in other
	// processes. If fn returns an error, nothing fn did is kept. When
	// Update returns nil, the change is durable.
	Update(ctx context.Context, fn func(Tx) error) error
	// View runs fn in a read-only transaction that sees one consistent
	// state.
	View(ctx context.Context, fn func(Tx) error) error
	// Ping reports whether the store is reachable.
	Ping(ctx context.Context) error
	Close() error
}

// Timed is implemented by stores that time what bounds the server's
// latency: how long their commits take (the flush to disk, or the round
// trip to PostgreSQL), and SQLite's background checkpoints. The server
// exports them as histograms.
type Timed interface {
	Timings() []Timing
}

// A Timing is a cumulative histogram of how long one thing a store does
// took.
type Timing struct {
	Name   string // in snake case, such as "commit"
	Help   string
	Count  uint64
	Sum    float64   // seconds, all together
	Bounds []float64 // upper bounds of the buckets, in seconds
	Counts []uint64  // Counts[i] took at most Bounds[i]
}

// RevocationCounter is implemented by stores that count the tokens ever
// revoked and read the count without a transaction. Tokens are never
// deleted and a revocation is final, so the count changes exactly when a
// token is revoked: a token cache that reads it on every request learns
// at once of a revocation by another process.
type RevocationCounter interface {
	RevokedTokens(ctx context.Context) (int64, error)
}

// CommitWatcher is implemented by stores that tell, without a
// transaction and for a fraction of a read's cost, whether any
// transaction committed since an earlier look, in this process or any
// other sharing the store. A token cache reads the revocation count
// (RevocationCounter) only when the mark moved.
type CommitWatcher interface {
	// CommitMark returns a mark of what the store has committed: a mark
	// taken after a transaction committed differs from every mark taken
	// before it. ok is false when the store cannot tell; the caller
	// then reads what it needs.
	CommitMark() (mark CommitMark, ok bool)
}

// A CommitMark marks what a store had committed when it was taken
// (CommitWatcher). Marks are compared with ==; what they hold is the
// store's own (the two copies of SQLite's wal-index header fit).
type CommitMark [96]byte

// Leaser is implemented by stores that several processes share and that
// grant leases among them: work that must happen once, not once per
// process (delivering webhooks), runs only while its lease is held.
type Leaser interface {
	// TryLease takes the lease called name if nobody holds it, and
	// reports whether it did.
	TryLease(ctx context.Context, name string) (Lease, bool, error)
}

// A Lease is held by one process at a time among those sharing a store.
type Lease interface {
	// Lost returns a channel closed if the lease is lost (the holder's
	// connection to the store broke), and perhaps once it is released.
	// The holder stops acting on the lease then.
	Lost() <-chan struct{}
	// Release gives the lease up. It may be called more than once.
	Release()
}

// A FencedLease can tell, inside a write transaction of the store that
// granted it, whether it is still held: Lost closes only once the holder
// notices it lost the lease (on PostgreSQL up to a few seconds after the
// server let another process take it). Write transactions are
// serialised, so one that found the lease held commits before the first
// write transaction of a process that takes the lease after: work whose
// write transactions check HeldIn first, and that starts under a new
// lease with such a transaction, is never done by two processes at once.
type FencedLease interface {
	Lease
	// HeldIn returns ErrLeaseLost if the lease is no longer held when tx
	// runs, or the error that kept it from telling.
	HeldIn(ctx context.Context, tx Tx) error
}

// ErrLeaseLost is FencedLease.HeldIn's error for a lease no longer held.
var ErrLeaseLost = errors.New("the lease is no longer held: another process may hold it")

// Listener is implemented by stores that report the commits of every
// process sharing them (PostgreSQL LISTEN/NOTIFY), so that a server wakes
// its live streams for another replica's events without polling.
type Listener interface {
	// Listen calls fn for every commit of events, with the highest seq
	// committed (0 after it reconnected, when it may have missed some),
	// until ctx ends.
	Listen(ctx context.Context, fn func(seq int64)) error
}

// Logging is implemented by stores that do work in the background (keep
// a connection to listen on, recover from losing it) and report it to
// the logger they are given.
type Logging interface {
	SetLogger(l *slog.Logger)
}

// Tx is one transaction of a Store. Lookups of things that do not exist
// return an *Error with code ENotFound; creating what exists returns
// EExists.
type Tx interface {
	CreateParty(ctx context.Context, p *Party) error
	Party(ctx context.Context, id string) (*Party, error)
	Parties(ctx context.Context) ([]*Party, error)
	// PutPartyKeys replaces the keys of a party; ENotFound if there is none.
	PutPartyKeys(ctx context.Context, id string, keys []string) error

	CreateToken(ctx context.Context, t *Token) error
	TokenByHash(ctx context.Context, hash []byte) (*Token, error)
	Tokens(ctx context.Context) ([]*Token, error)
	RevokeToken(ctx context.Context, id string, at time.Time) error

	// Settings returns the stored settings, or DefaultSettings if none
	// were ever stored.
	Settings(ctx context.Context) (Settings, error)
	PutSettings(ctx context.Context, s Settings) error

	Operation(ctx context.Context, id string) (*Operation, error)
	// PutOperation inserts the operation or replaces the one with its ID.
	PutOperation(ctx context.Context, op *Operation) error
	// Operations lists operations in the order they were first stored.
	// It returns the cursor of the next page, or "" after the last page.
	Operations(ctx context.Context, f OperationFilter) ([]*Operation, string, error)
	// OperationsSince calls fn for every operation whose Rev is greater
	// than rev, in increasing Rev order, with live ones only if liveOnly.
	OperationsSince(ctx context.Context, rev int64, liveOnly bool, fn func(*Operation) error) error

	Conflict(ctx context.Context, id string) (*Conflict, error)
	// ConflictByPair finds the conflict of two operations, in any order.
	ConflictByPair(ctx context.Context, op1, op2 string) (*Conflict, error)
	// ConflictsOf lists every conflict, of any status, of the operation.
	ConflictsOf(ctx context.Context, opID string) ([]*Conflict, error)
	// PutConflict inserts the conflict or replaces the one with its ID.
	PutConflict(ctx context.Context, c *Conflict) error
	// Conflicts lists conflicts in the order they were first stored.
	Conflicts(ctx context.Context, f ConflictFilter) ([]*Conflict, string, error)

	// AppendEvent assigns the next sequence number to e and stores it.
	AppendEvent(ctx context.Context, e *Event) error
	// Events returns up to limit events with Seq greater than after, in
	// order.
	Events(ctx context.Context, after int64, limit int) ([]*Event, error)
	// EventsWithin is Events, ending early after the first event whose
	// Data brings the total size of the events' Data past maxBytes (so it
	// returns at least one event when there is one).
	EventsWithin(ctx context.Context, after int64, limit, maxBytes int) ([]*Event, error)
	// EventsExcept returns the events with Seq greater than after and at
	// most through, in order, but for those whose Seq is in skip (in
	// increasing order), whose rows it does not read: a page of the log
	// served to a peer sends some entries as their leaf hash only, and
	// their bodies are most of what a page would read.
	EventsExcept(ctx context.Context, after, through int64, skip []int64) ([]*Event, error)
	// LastSeq returns the highest event sequence number, 0 if none.
	LastSeq(ctx context.Context) (int64, error)

	// Duty looks a duty up by ID.
	Duty(ctx context.Context, id string) (*Duty, error)
	// PutDuty inserts the duty or replaces the one with its ID.
	PutDuty(ctx context.Context, d *Duty) error
	// Duties lists duties in the order they were first stored.
	Duties(ctx context.Context, f DutyFilter) ([]*Duty, string, error)
	// DutiesDue returns up to limit duties not acknowledged whose DueAt is
	// at or before now, earliest DueAt first.
	DutiesDue(ctx context.Context, now time.Time, limit int) ([]*Duty, error)

	// Message looks a hotline message up by ID.
	Message(ctx context.Context, id string) (*Message, error)
	// PutMessage inserts the message or replaces the one with its ID.
	PutMessage(ctx context.Context, m *Message) error
	// Messages lists messages sent by or to f.Party (all if empty), in the
	// order they were first stored.
	Messages(ctx context.Context, f MessageFilter) ([]*Message, string, error)

	// Webhook looks a webhook up by party and name (with its Secret).
	Webhook(ctx context.Context, party, name string) (*Webhook, error)
	// PutWebhook inserts the webhook or replaces the one with its party
	// and name, with its Secret and Delivery.
	PutWebhook(ctx context.Context, w *Webhook) error
	// PutDelivery replaces only the delivery state of a webhook, so that a
	// delivery worker never overwrites a change to its URL or events.
	PutDelivery(ctx context.Context, party, name string, d Delivery) error
	// Webhooks lists the webhooks of a party (all if party is empty), with
	// their secrets, ordered by party and name.
	Webhooks(ctx context.Context, party string) ([]*Webhook, error)
	// DeleteWebhook removes a webhook.
	DeleteWebhook(ctx context.Context, party, name string) error

	// PutLogHashes stores hashes of the Merkle log at consecutive storage
	// indexes from start (as golang.org/x/mod/sumdb/tlog numbers them).
	// Storing a hash at an index that has one is an error (EExists): the
	// log only grows.
	PutLogHashes(ctx context.Context, start int64, hashes [][32]byte) error
	// LogHashes returns the hashes at the storage indexes, in the order
	// asked; ENotFound if any is missing.
	LogHashes(ctx context.Context, indexes []int64) ([][32]byte, error)

	// PutKey stores a signing key, or replaces the one with its name.
	PutKey(ctx context.Context, k *SigningKey) error
	// Keys lists the signing keys, oldest first, with their secrets.
	Keys(ctx context.Context) ([]*SigningKey, error)

	// Meta returns the value kept under name (a short key such as
	// "index_snapshot/deconflict.db.index"); ENotFound if there is none.
	// Meta values are the mechanism's own bookkeeping: the hash that binds
	// an index snapshot to the store, the row a readiness probe writes.
	Meta(ctx context.Context, name string) ([]byte, error)
	// PutMeta keeps value under name, in place of any value before.
	PutMeta(ctx context.Context, name string, value []byte) error
}

// GeometryTx is a Tx that also keeps, beside each operation, a compact
// form of its parsed volumes: bytes that the mechanism makes and reads
// (package geo's EncodeVolumes) and the store keeps as they are. A restart
// then loads the index from them without decoding or validating the
// operations again. Stores need not implement it.
type GeometryTx interface {
	// PutOperationGeometry does what PutOperation does and keeps geom
	// with the operation. PutOperation keeps none: it clears what an
	// earlier PutOperationGeometry kept.
	PutOperationGeometry(ctx context.Context, op *Operation, geom []byte) error
	// LiveGeometries calls fn, in no particular order, for every live
	// (planned or active) operation: with the geometry kept with it, or
	// with the operation itself if none was kept. fn must not use the
	// transaction. An error from fn stops the walk and is returned as it
	// is.
	LiveGeometries(ctx context.Context, fn func(g *LiveGeometry) error) error
}

// GeometriesSinceTx is a GeometryTx that also gives the operations
// changed since a rev as LiveGeometries gives the live ones, so that a
// catch-up of many changes decodes kept geometries instead of parsing
// documents. Stores need not implement it.
type GeometriesSinceTx interface {
	// GeometriesSince calls fn, in no particular order, for every
	// operation whose Rev is above rev: live (planned or active) ones as
	// LiveGeometries gives them, and with live false and only ID and
	// Party those no longer live. fn must not use the transaction. An
	// error from fn stops the walk and is returned as it is.
	GeometriesSince(ctx context.Context, rev int64, fn func(g *LiveGeometry, live bool) error) error
}

// ConflictCounter is a Tx that counts conflicts without reading them, as
// a start does to know how many are open. Stores need not implement it.
type ConflictCounter interface {
	// CountConflicts returns the number of conflicts with the status.
	CountConflicts(ctx context.Context, status ConflictStatus) (int64, error)
}

// LiveGeometry is one live operation as GeometryTx.LiveGeometries gives
// it: Geometry as it was kept or, when none was, the whole Operation.
type LiveGeometry struct {
	ID, Party string
	Geometry  []byte
	Operation *Operation
}

// DamageReporter is implemented by stores that can tell, of an error they
// returned, that it shows their data is damaged (a corrupt page or
// index), as opposed to a failure that may pass (a lost connection, a
// full disk, a lock held too long). The mechanism raises its integrity
// alarm on such an error. Stores need not implement it.
type DamageReporter interface {
	Damaged(err error) bool
}
