-- Small values the mechanism keeps for itself, by name: the SHA-256 that
-- binds an index snapshot file to this store, and the row the readiness
-- probe writes to prove the store still takes writes.
CREATE TABLE IF NOT EXISTS meta (
	name  TEXT PRIMARY KEY,
	value BLOB NOT NULL
) WITHOUT ROWID;
