// Package deconflict holds the vocabulary of the joint deconfliction
// mechanism: parties, tokens and roles, operations declared as 4D volumes,
// conflicts between operations of different parties, events, settings and
// the one error type. It does no I/O.
//
// The rules that join these nouns together live once, in package mechanism.
// Geometry lives in package geo. Storage adapters (package sqlite, and
// later postgres) persist and query only; they implement Store.
package deconflict
