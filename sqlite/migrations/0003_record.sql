-- 0003_record: the public record's Merkle log and the keys that sign its
-- checkpoints.

-- One hash of the log per storage index, as golang.org/x/mod/sumdb/tlog
-- numbers them. Rows are only ever added: the log only grows.
CREATE TABLE log_hashes (
	idx  INTEGER PRIMARY KEY CHECK (idx >= 0),
	hash BLOB NOT NULL CHECK (typeof(hash) = 'blob' AND length(hash) = 32)
);

-- verifier and signer are the halves of a note key; signer is secret.
-- seq is the order in which keys were first stored (Keys lists them oldest
-- first); a replace keeps it.
CREATE TABLE signing_keys (
	name       TEXT NOT NULL PRIMARY KEY,
	seq        INTEGER NOT NULL UNIQUE,
	verifier   TEXT NOT NULL,
	signer     TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	retired_at INTEGER
);
