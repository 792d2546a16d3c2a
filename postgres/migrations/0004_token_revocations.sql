-- Every authenticated request asks whether a token was revoked since its
-- token cache was filled (RevokedTokens), by a number that changes with
-- every revocation. Counting the revoked tokens grew with them; the count
-- is now kept in a row of its own by triggers, so that every writer
-- keeps it, whatever its version.
CREATE TABLE token_revocations (
	id integer PRIMARY KEY CHECK (id = 1),
	n  bigint NOT NULL
);
-- The row beside the tokens table the trigger fired on, whatever the
-- search_path of the session that revoked.
CREATE FUNCTION count_token_revocation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('UPDATE %I.token_revocations SET n = n + 1 WHERE id = 1', TG_TABLE_SCHEMA);
	RETURN NULL;
END;
$$;
CREATE TRIGGER tokens_revoke AFTER UPDATE OF revoked_at ON tokens
	FOR EACH ROW WHEN (old.revoked_at IS NULL AND new.revoked_at IS NOT NULL)
	EXECUTE FUNCTION count_token_revocation();
CREATE TRIGGER tokens_insert_revoked AFTER INSERT ON tokens
	FOR EACH ROW WHEN (new.revoked_at IS NOT NULL)
	EXECUTE FUNCTION count_token_revocation();
-- Counted after the triggers are in place: creating them waits for the
-- revocations under way (an older replica's), which this count then sees,
-- and holds later ones until the migration commits, for the triggers.
INSERT INTO token_revocations (id, n) SELECT 1, count(*) FROM tokens WHERE revoked_at IS NOT NULL;
-- tokens_revoked (0002) stays while older replicas, which count with it,
-- may still run beside this version (a rolling upgrade).
