package deconflict

import "context"

// DSSTx is a Tx that also keeps the records of the ASTM F3548 DSS
// interface (package dss): operational intent references, constraint
// references, subscriptions and USS availabilities, each a JSON document
// under a kind and an ID. The DSS decides what they hold; the store keeps
// them with the same durability as everything else, in the transaction
// that declares the operation they stand for. Stores need not implement
// it; without it the DSS interface cannot be served.
type DSSTx interface {
	// PutDSSRecord inserts the record or replaces the one with its kind
	// and ID.
	PutDSSRecord(ctx context.Context, kind, id string, doc []byte) error
	// DeleteDSSRecord removes a record; removing none is not an error.
	DeleteDSSRecord(ctx context.Context, kind, id string) error
	// DSSRecords calls fn for every record of the kind, in no particular
	// order. fn must not use the transaction; an error from fn stops the
	// walk and is returned as it is.
	DSSRecords(ctx context.Context, kind string, fn func(id string, doc []byte) error) error
}
