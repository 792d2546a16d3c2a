package deconflict

import "context"

// DSSTx is a Tx that also keeps the records of the ASTM F3548 DSS
// interface (package dss): operational intent references, constraint
// references, subscriptions, USS availabilities and reports, each a JSON
// document under a kind and an ID. The DSS decides what they hold and
// numbers every change (seq, one more than the last, in its write
// order), so that a replica catches up with the changes of the others;
// the store keeps them with the same durability as everything else, in
// the transaction that declares the operation they stand for. Stores
// need not implement it; without it the DSS interface cannot be served.
type DSSTx interface {
	// PutDSSRecord inserts the record or replaces the one with its kind
	// and ID, with its change number. A nil doc marks the record deleted
	// (it stays, so that others learn of the deletion).
	PutDSSRecord(ctx context.Context, kind, id string, seq int64, doc []byte) error
	// DSSRecordsSince calls fn for every record changed after seq, in
	// increasing seq order, deleted ones with a nil doc. fn must not use
	// the transaction; an error from fn stops the walk and is returned as
	// it is.
	DSSRecordsSince(ctx context.Context, seq int64, fn func(kind, id string, seq int64, doc []byte) error) error
	// DSSLastSeq returns the highest change number of the records, 0 if
	// none.
	DSSLastSeq(ctx context.Context) (int64, error)
}

// DSSPurgeTx is a DSSTx that can forget deleted records. A deleted
// record's row stays so that other processes learn of the deletion;
// once every process has had the time to, the DSS purges the rows
// (package dss, purge.go). Stores need not implement it; without it the
// rows of deleted records stay.
type DSSPurgeTx interface {
	// PurgeDSSTombstones removes the rows of deleted records whose change
	// number is at most seq and returns how many it removed.
	PurgeDSSTombstones(ctx context.Context, seq int64) (int64, error)
}
