-- The DSS's records kept in the order of their change numbers: seq is the
-- table's row ID, so a change appends its record at the end of the table,
-- and only the small (kind, id) index takes an entry anywhere. Keyed by
-- (kind, id), every new record of about 650 bytes landed in a random leaf
-- of the table itself, which split every few records: the table was a
-- third of the pages an operational intent's commit wrote.
CREATE TABLE dss_records_by_seq (
	seq  INTEGER PRIMARY KEY,
	kind TEXT NOT NULL,
	id   TEXT NOT NULL,
	doc  BLOB,
	UNIQUE (kind, id)
);
INSERT INTO dss_records_by_seq (seq, kind, id, doc) SELECT seq, kind, id, doc FROM dss_records;
DROP TABLE dss_records;
ALTER TABLE dss_records_by_seq RENAME TO dss_records;
