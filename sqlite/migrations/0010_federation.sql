-- A federation node (contract section 13): where peers reach it, the
-- peers it trusts, what it received of their logs (every leaf hash, the
-- bytes of the entries it may see), alerts about them, and heads'
-- overrides of a stale link. A store without peers is a single server.
CREATE TABLE IF NOT EXISTS federation_node (
	id  INTEGER PRIMARY KEY CHECK (id = 1),
	url TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS peers (
	key     TEXT PRIMARY KEY,
	doc     TEXT NOT NULL,
	applied INTEGER NOT NULL DEFAULT 0 -- the cursor, moved by every entry applied
);
CREATE TABLE IF NOT EXISTS peer_hashes (
	peer TEXT NOT NULL,
	idx  INTEGER NOT NULL,
	hash BLOB NOT NULL,
	PRIMARY KEY (peer, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS peer_entries (
	peer      TEXT NOT NULL,
	idx       INTEGER NOT NULL,
	leaf_hash BLOB NOT NULL,
	data      BLOB,
	PRIMARY KEY (peer, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS peer_alerts (
	id   INTEGER PRIMARY KEY AUTOINCREMENT,
	peer TEXT NOT NULL,
	doc  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS peer_alerts_peer ON peer_alerts (peer, id);
CREATE TABLE IF NOT EXISTS overrides (
	operation TEXT PRIMARY KEY,
	doc       TEXT NOT NULL
);
