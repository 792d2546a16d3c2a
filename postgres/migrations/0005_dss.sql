-- The records of the ASTM F3548 DSS interface (package dss): one JSON
-- document per entity, by kind (oir, constraint, subscription,
-- availability) and ID. The DSS loads them all at start and keeps its
-- own index in memory, as the mechanism does for operations.
CREATE TABLE dss_records (
	kind text NOT NULL,
	id   text NOT NULL,
	doc  bytea NOT NULL,
	PRIMARY KEY (kind, id)
);
