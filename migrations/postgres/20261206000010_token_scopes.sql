-- Tokens get scopes (a comma list: read, write, move, admin, runner, mcp; see
-- app/src/domain/scope.rs) and an optional expiry. Tokens made before keep their owner's full
-- rights: they are marked `legacy`, and the tokens page asks to replace them. The store
-- always writes the scopes of a new token; a row without any allows nothing.
ALTER TABLE api_tokens ADD COLUMN scopes TEXT;
ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT;
UPDATE api_tokens SET scopes = 'legacy';
