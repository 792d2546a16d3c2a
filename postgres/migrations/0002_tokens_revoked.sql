-- Tokens revoked, for the cheap count every request's token cache checks
-- (RevokedTokens).
CREATE INDEX tokens_revoked ON tokens (id) WHERE revoked_at IS NOT NULL;
