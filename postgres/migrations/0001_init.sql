-- 0001_init: the schema of the store, as the SQLite store has it after its
-- migrations 0001 to 0004.
--
-- Times are bigint microseconds since the Unix epoch, UTC, as in the
-- SQLite store (timestamptz would do too, but the integers are what the
-- two stores share). The doc columns hold the JSON of the whole record, as
-- text, byte for byte as it was written; the other columns repeat what
-- queries filter on, plus the fields the JSON form leaves out. Identifiers
-- are COLLATE "C", so that they compare and sort bytewise whatever the
-- database's default collation.
--
-- The seq columns give the order in which records were first stored (the
-- cursor of a list). Writers hold one advisory lock each (see doc.go), so
-- identity values are handed out in commit order; their gaps do not
-- matter. Event seqs are the exception: they are assigned by the store,
-- max + 1 under the lock, so that they run 1, 2, 3… without gaps.

CREATE TABLE parties (
	seq        bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
	id         text COLLATE "C" PRIMARY KEY,
	name       text NOT NULL,
	created_at bigint NOT NULL,
	keys       text NOT NULL DEFAULT '[]' -- a JSON list of verifier strings
);

CREATE TABLE tokens (
	seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id         text COLLATE "C" NOT NULL UNIQUE,
	hash       bytea NOT NULL UNIQUE,
	role       text NOT NULL,
	party      text COLLATE "C" NOT NULL,
	label      text NOT NULL,
	created_at bigint NOT NULL,
	revoked_at bigint
);

-- settings has at most one row, id 1; no row means the default settings.
CREATE TABLE settings (
	id  integer PRIMARY KEY CHECK (id = 1),
	doc text NOT NULL
);

CREATE TABLE operations (
	seq     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id      text COLLATE "C" NOT NULL UNIQUE,
	party   text COLLATE "C" NOT NULL,
	state   text COLLATE "C" NOT NULL,
	rev     bigint NOT NULL,
	t_start bigint NOT NULL,
	t_end   bigint NOT NULL,
	doc     text NOT NULL
);
CREATE INDEX operations_rev ON operations (rev, seq);
CREATE INDEX operations_party ON operations (party, seq);
CREATE INDEX operations_state ON operations (state, seq);

-- op_lo and op_hi are the two operation IDs in sorted order, so that a pair
-- has one conflict whichever way round it is named.
CREATE TABLE conflicts (
	seq    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id     text COLLATE "C" NOT NULL UNIQUE,
	op_lo  text COLLATE "C" NOT NULL,
	op_hi  text COLLATE "C" NOT NULL,
	party1 text COLLATE "C" NOT NULL,
	party2 text COLLATE "C" NOT NULL,
	status text COLLATE "C" NOT NULL,
	doc    text NOT NULL,
	UNIQUE (op_lo, op_hi)
);
CREATE INDEX conflicts_op_hi ON conflicts (op_hi);
CREATE INDEX conflicts_party1 ON conflicts (party1, seq);
CREATE INDEX conflicts_party2 ON conflicts (party2, seq);
CREATE INDEX conflicts_status ON conflicts (status, seq);

-- seq is assigned by AppendEvent, under the write lock: never a sequence,
-- whose values a rolled-back transaction would lose. data is bytea, so
-- that the body hashed into the record comes back byte for byte.
CREATE TABLE events (
	seq          bigint PRIMARY KEY CHECK (seq > 0),
	type         text NOT NULL,
	time         bigint NOT NULL,
	actor_party  text NOT NULL,
	actor_role   text NOT NULL,
	actor_token  text NOT NULL,
	subject_kind text,
	subject_id   text,
	audience     text NOT NULL, -- JSON list of parties, or null
	data         bytea
);

-- A duty is kept in columns only: most of its fields are left out of its
-- JSON form.
CREATE TABLE duties (
	seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id           text COLLATE "C" NOT NULL UNIQUE,
	subject_kind text COLLATE "C" NOT NULL,
	subject_id   text COLLATE "C" NOT NULL,
	version      bigint NOT NULL,
	party        text COLLATE "C" NOT NULL,
	level        bigint NOT NULL,
	created_at   bigint NOT NULL,
	due_at       bigint,
	acked_at     bigint,
	raised_at    bigint,
	cleared_at   bigint
);
-- DutiesDue: acked_at IS NULL AND due_at <= now, in due_at, seq order.
CREATE INDEX duties_due ON duties (due_at, seq) WHERE acked_at IS NULL;
CREATE INDEX duties_level ON duties (level, seq);
CREATE INDEX duties_party ON duties (party, seq);
CREATE INDEX duties_subject ON duties (subject_kind, subject_id);

-- doc is the JSON of the message; from_token repeats From.TokenID, which
-- the JSON leaves out; to_parties its To, for the "sent to" filter.
CREATE TABLE messages (
	seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id         text COLLATE "C" NOT NULL UNIQUE,
	from_party text COLLATE "C" NOT NULL,
	from_token text NOT NULL,
	to_parties text[] COLLATE "C" NOT NULL,
	doc        text NOT NULL
);
CREATE INDEX messages_from ON messages (from_party, seq);
CREATE INDEX messages_to ON messages USING gin (to_parties);

-- events is the JSON array of Webhook.Events (null for nil), delivery the
-- JSON of Webhook.Delivery.
CREATE TABLE webhooks (
	party      text COLLATE "C" NOT NULL,
	name       text COLLATE "C" NOT NULL,
	url        text NOT NULL,
	events     text NOT NULL,
	secret     text NOT NULL,
	created_at bigint NOT NULL,
	updated_at bigint NOT NULL,
	delivery   text NOT NULL,
	PRIMARY KEY (party, name)
);

-- One hash of the Merkle log per storage index, as golang.org/x/mod/sumdb/
-- tlog numbers them. Rows are only ever added: the log only grows.
CREATE TABLE log_hashes (
	idx  bigint PRIMARY KEY CHECK (idx >= 0),
	hash bytea NOT NULL CHECK (octet_length(hash) = 32)
);

-- verifier and signer are the halves of a note key; signer is secret.
CREATE TABLE signing_keys (
	name       text COLLATE "C" PRIMARY KEY,
	seq        bigint NOT NULL UNIQUE,
	verifier   text NOT NULL,
	signer     text NOT NULL,
	created_at bigint NOT NULL,
	retired_at bigint
);
