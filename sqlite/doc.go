// Package sqlite is the embedded store of the mechanism: a
// deconflict.Store kept in one SQLite file. With cgo it runs on SQLite's C
// library (github.com/mattn/go-sqlite3), without it on the pure-Go
// translation of the same library (modernc.org/sqlite); see DriverName.
// Both read and write the same files with the same SQL.
//
// It persists and queries; it holds no rules.
//
// # Durability and concurrency
//
// The file is in WAL mode with synchronous=FULL: when Update returns nil,
// the transaction is in the WAL on disk, and killing the process at any
// moment after that loses nothing. Write transactions begin IMMEDIATE, so
// they take the file's write lock before their first statement: writers
// queue for their DB's one write connection within a process, and for the
// lock, up to BusyTimeout, across processes. A writer waiting for another
// process tries again every millisecond or less (not on SQLite's schedule,
// which backs off to 100 ms and starves beside a busy writer), so
// `deconflict party add` gets its turn beside a running server that
// writes all the time. Read transactions (View)
// use a separate pool of query-only connections and run alongside each
// other and alongside the writer, each on its own snapshot.
//
// # Schema
//
// The schema is a series of SQL migrations embedded in the binary
// (migrations/NNNN_name.sql). Open applies those the file lacks in one
// write transaction and records them in the table schema_migrations, so
// two processes opening a new file at once apply them once. A file whose
// schema is newer than the program is refused.
//
// Each record is kept as the JSON of its deconflict type in a doc column,
// next to columns for what lists filter and sort on and for the fields the
// JSON leaves out (an operation's Start, End and Rev; a token's hash; an
// event's audience and data; a message's sender token). Duties are kept in
// columns only, a message's addressees also in the table message_to, and
// a webhook's secret, events and delivery state in columns of their own,
// so that PutDelivery changes nothing else. The Merkle log is kept one
// hash a row, by storage index, in log_hashes, and the checkpoint signing
// keys, secret halves included, in signing_keys. Times are kept as
// microseconds since the Unix epoch and read back in UTC. The seq columns
// give the order in which records were first stored; a list's cursor is
// the seq of the last item of its page, encoded.
package sqlite
