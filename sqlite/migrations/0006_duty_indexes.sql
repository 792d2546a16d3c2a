-- Every declaration owes a duty to every other party, so each index of
-- duties is written several times a declaration, and the writer is the
-- bottleneck. Keep only the indexes the mechanism's queries use, and only
-- the rows they look for:
-- * DutiesDue reads unacknowledged duties by due time: a partial index of
--   those (an acknowledged duty leaves it);
-- * escalated duties (Duties with Escalated) are few: a partial index of
--   them, which a new duty (level 0) does not touch;
-- * duties by party or by subject are listed by no query of the
--   mechanism: those filters scan (the store contract still honours them).
DROP INDEX duties_due;
DROP INDEX duties_level;
DROP INDEX duties_party;
DROP INDEX duties_subject;
CREATE INDEX duties_open_due ON duties (due_at, seq) WHERE acked_at IS NULL;
CREATE INDEX duties_escalated ON duties (seq) WHERE level >= 1;
