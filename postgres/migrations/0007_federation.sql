-- A federation node (contract section 13): where peers reach it, the
-- peers it trusts, what it received of their logs (every leaf hash, the
-- bytes of the entries it may see), alerts about them, and heads'
-- overrides of a stale link. A store without peers is a single server.
-- IF NOT EXISTS: tests that take a store back to an older schema leave
-- these tables in place.
CREATE TABLE IF NOT EXISTS federation_node (
	id  integer PRIMARY KEY CHECK (id = 1),
	url text NOT NULL
);
CREATE TABLE IF NOT EXISTS peers (
	key     text PRIMARY KEY,
	pos     bigserial,
	doc     text NOT NULL,
	applied bigint NOT NULL DEFAULT 0 -- the cursor, moved by every entry applied
);
CREATE TABLE IF NOT EXISTS peer_hashes (
	peer text NOT NULL,
	idx  bigint NOT NULL,
	hash bytea NOT NULL,
	PRIMARY KEY (peer, idx)
);
CREATE TABLE IF NOT EXISTS peer_entries (
	peer      text NOT NULL,
	idx       bigint NOT NULL,
	leaf_hash bytea NOT NULL,
	data      bytea,
	PRIMARY KEY (peer, idx)
);
CREATE TABLE IF NOT EXISTS peer_alerts (
	id   bigserial PRIMARY KEY,
	peer text NOT NULL,
	doc  text NOT NULL
);
CREATE INDEX IF NOT EXISTS peer_alerts_peer ON peer_alerts (peer, id);
CREATE TABLE IF NOT EXISTS overrides (
	operation text PRIMARY KEY,
	doc       text NOT NULL
);
