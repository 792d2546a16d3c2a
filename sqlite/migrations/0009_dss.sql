-- The records of the ASTM F3548 DSS interface (package dss): one JSON
-- document per entity, by kind (oir, constraint, subscription,
-- availability, report) and ID, with the number of its last change
-- (seq) so that every process catches up with the others' changes; a
-- deleted record keeps its row with a NULL doc. The DSS loads them all at
-- start and keeps its own index in memory, as the mechanism does for
-- operations. IF NOT EXISTS: tests that take a store back to an older
-- schema leave this table in place.
CREATE TABLE IF NOT EXISTS dss_records (
	kind TEXT NOT NULL,
	id   TEXT NOT NULL,
	seq  INTEGER NOT NULL,
	doc  BLOB,
	PRIMARY KEY (kind, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS dss_records_seq ON dss_records (seq);
