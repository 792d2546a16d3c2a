-- The parties' own public keys, with which they may sign their
-- acknowledgements: a JSON list of signed-note verifier strings.
ALTER TABLE parties ADD COLUMN keys TEXT NOT NULL DEFAULT '[]';
