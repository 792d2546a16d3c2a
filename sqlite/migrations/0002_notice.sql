-- 0002_notice: acknowledgement duties (and their escalations), hotline
-- messages and webhooks.

-- A duty is kept in columns only: most of its fields (Version, CreatedAt,
-- DueAt, AckedAt) are left out of its JSON form. seq is the order in which
-- duties were first stored, and the cursor of a list; a replace keeps it.
CREATE TABLE duties (
	seq          INTEGER PRIMARY KEY,
	id           TEXT NOT NULL UNIQUE,
	subject_kind TEXT NOT NULL,
	subject_id   TEXT NOT NULL,
	version      INTEGER NOT NULL,
	party        TEXT NOT NULL,
	level        INTEGER NOT NULL,
	created_at   INTEGER NOT NULL,
	due_at       INTEGER,
	acked_at     INTEGER,
	raised_at    INTEGER,
	cleared_at   INTEGER
);
-- DutiesDue: acked_at IS NULL AND due_at <= now, in due_at order (then seq,
-- which every index holds as the rowid).
CREATE INDEX duties_due ON duties (acked_at, due_at);
CREATE INDEX duties_level ON duties (level, seq);
CREATE INDEX duties_party ON duties (party, seq);
CREATE INDEX duties_subject ON duties (subject_kind, subject_id);

-- doc is the JSON of the message; from_token repeats From.TokenID, which
-- the JSON leaves out.
CREATE TABLE messages (
	seq        INTEGER PRIMARY KEY,
	id         TEXT NOT NULL UNIQUE,
	from_party TEXT NOT NULL,
	from_token TEXT NOT NULL,
	doc        TEXT NOT NULL
);
CREATE INDEX messages_from ON messages (from_party, seq);

-- The addressees of each message (its To), for the "sent to" filter. A put
-- of the message replaces its rows.
CREATE TABLE message_to (
	party TEXT NOT NULL,
	seq   INTEGER NOT NULL REFERENCES messages (seq),
	PRIMARY KEY (party, seq)
) WITHOUT ROWID;

-- events is the JSON array of Webhook.Events (null for nil), delivery the
-- JSON of Webhook.Delivery.
CREATE TABLE webhooks (
	party      TEXT NOT NULL,
	name       TEXT NOT NULL,
	url        TEXT NOT NULL,
	events     TEXT NOT NULL,
	secret     TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	delivery   TEXT NOT NULL,
	PRIMARY KEY (party, name)
) WITHOUT ROWID;
