-- The records of the ASTM F3548 DSS interface (package dss): one JSON
-- document per entity, by kind (oir, constraint, subscription,
-- availability, report) and ID, with the number of its last change
-- (seq) so that every replica catches up with the others' changes; a
-- deleted record keeps its row with a NULL doc. The DSS loads them all at
-- start and keeps its own index in memory, as the mechanism does for
-- operations. IF NOT EXISTS: tests that take a store back to an older
-- schema leave this table in place.
CREATE TABLE IF NOT EXISTS dss_records (
	kind text NOT NULL,
	id   text NOT NULL,
	seq  bigint NOT NULL,
	doc  bytea,
	PRIMARY KEY (kind, id)
);
CREATE UNIQUE INDEX IF NOT EXISTS dss_records_seq ON dss_records (seq);
