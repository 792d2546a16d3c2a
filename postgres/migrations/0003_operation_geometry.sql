-- The compact form of an operation's parsed volumes, which the mechanism
-- makes and reads (GeometryTx): a restart loads its index from it instead
-- of decoding doc. NULL when none was kept (operations stored before this
-- version, or by PutOperation); the mechanism then parses doc.
ALTER TABLE operations ADD COLUMN geom bytea;
