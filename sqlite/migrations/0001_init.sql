-- 0001_init: the first schema of the store.
--
-- Times are INTEGER microseconds since the Unix epoch, UTC. The doc columns
-- hold the JSON of the whole record; the other columns repeat what queries
-- filter on, plus the fields the JSON form leaves out (Operation.Start,
-- End and Rev; Token.Hash; Event.Audience and Data).

CREATE TABLE parties (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	created_at INTEGER NOT NULL
);

CREATE TABLE tokens (
	seq        INTEGER PRIMARY KEY,
	id         TEXT NOT NULL UNIQUE,
	hash       BLOB NOT NULL UNIQUE,
	role       TEXT NOT NULL,
	party      TEXT NOT NULL,
	label      TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	revoked_at INTEGER
);

-- settings has at most one row, id 1; no row means the default settings.
CREATE TABLE settings (
	id  INTEGER PRIMARY KEY CHECK (id = 1),
	doc TEXT NOT NULL
);

-- seq is the order in which operations were first stored, and the cursor of
-- a list; a replace keeps it.
CREATE TABLE operations (
	seq     INTEGER PRIMARY KEY,
	id      TEXT NOT NULL UNIQUE,
	party   TEXT NOT NULL,
	state   TEXT NOT NULL,
	rev     INTEGER NOT NULL,
	t_start INTEGER NOT NULL,
	t_end   INTEGER NOT NULL,
	doc     TEXT NOT NULL
);
CREATE INDEX operations_rev ON operations (rev, seq);
CREATE INDEX operations_party ON operations (party, seq);
CREATE INDEX operations_state ON operations (state, seq);

-- op_lo and op_hi are the two operation IDs in sorted order, so that a pair
-- has one conflict whichever way round it is named.
CREATE TABLE conflicts (
	seq    INTEGER PRIMARY KEY,
	id     TEXT NOT NULL UNIQUE,
	op_lo  TEXT NOT NULL,
	op_hi  TEXT NOT NULL,
	party1 TEXT NOT NULL,
	party2 TEXT NOT NULL,
	status TEXT NOT NULL,
	doc    TEXT NOT NULL,
	UNIQUE (op_lo, op_hi)
);
CREATE INDEX conflicts_op_hi ON conflicts (op_hi);
CREATE INDEX conflicts_party1 ON conflicts (party1, seq);
CREATE INDEX conflicts_party2 ON conflicts (party2, seq);
CREATE INDEX conflicts_status ON conflicts (status, seq);

-- AUTOINCREMENT: a sequence number is never handed out twice, and one
-- rolled back with its transaction is handed out again, so seq runs 1, 2, 3…
-- without gaps.
CREATE TABLE events (
	seq          INTEGER PRIMARY KEY AUTOINCREMENT,
	type         TEXT NOT NULL,
	time         INTEGER NOT NULL,
	actor_party  TEXT NOT NULL,
	actor_role   TEXT NOT NULL,
	actor_token  TEXT NOT NULL,
	subject_kind TEXT,
	subject_id   TEXT,
	audience     TEXT NOT NULL,
	data         BLOB
);
