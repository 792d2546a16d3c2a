-- The records of the ASTM F3548 DSS interface (package dss): one JSON
-- document per entity, by kind (oir, constraint, subscription,
-- availability) and ID. The DSS loads them all at start and keeps its
-- own index in memory, as the mechanism does for operations.
CREATE TABLE dss_records (
	kind TEXT NOT NULL,
	id   TEXT NOT NULL,
	doc  BLOB NOT NULL,
	PRIMARY KEY (kind, id)
) WITHOUT ROWID;
