// Package postgres is the shared store of the mechanism: a
// deconflict.Store in a PostgreSQL database, on pgx, for several replicas
// of the server at once.
//
// It persists and queries; it holds no rules. It behaves as the SQLite
// store does, and passes the same conformance suite (storetest).
//
// # Locking
//
// Every write transaction (Update) begins by taking one advisory
// transaction lock, the same fixed key for every writer of the database
// (pg_advisory_xact_lock), sent with its BEGIN and its first statement
// in one round trip, before that statement runs: writers
// are serialised across all replicas exactly as SQLite's BEGIN IMMEDIATE
// serialises them across processes, and the rules above the store need no
// more than that. The lock ends with the transaction, also when a replica
// dies. After the lock, READ COMMITTED sees everything committed before
// it. The mechanism's group commit batches many requests into one Update,
// which amortises the lock and the commit's fsync. Update runs fn again
// after a serialization failure or deadlock, a few times at most.
// Updates of one DB queue in the process before that, holding no
// connection, so that waiting writers do not starve readers of the pool.
// Read transactions (View) are REPEATABLE READ, READ ONLY: one snapshot,
// beside the writer, taking no lock; their BEGIN, too, goes with their
// first statement.
//
// Event sequence numbers are assigned by AppendEvent as max(seq) + 1
// under the write lock, never by a sequence (which would leave a gap for
// each rolled-back transaction): they run 1, 2, 3… without gaps, as the
// Merkle log needs. An Update that appended events notifies the channel
// EventsChannel with its last seq, inside the transaction, so that the
// notification is sent if and only if it commits; Listen follows them,
// for replicas to wake their streams.
//
// TryLease takes a named session advisory lock on a connection it keeps
// from the pool, for work that one replica only must do (delivering
// webhooks): the lease ends when it is released, or when its connection
// or process dies, and Lease.Lost tells the holder.
//
// # Schema
//
// The schema is a series of SQL migrations embedded in the binary
// (migrations/NNNN_name.sql). Open applies those the database lacks in
// one transaction, holding a session advisory lock of its own, and
// records them in schema_migrations: replicas that start at once apply
// them once. A database whose schema is newer than the program is
// refused.
//
// Records are kept as in the SQLite store: the JSON of the record as text
// in a doc column, next to columns for what lists filter and sort on.
// Event data is bytea and comes back byte for byte, as the record hashes
// it. Times are bigint microseconds since the Unix epoch, read back in
// UTC (the precision of the SQLite store). Identifiers are COLLATE "C",
// compared and sorted bytewise.
package postgres
