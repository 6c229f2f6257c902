-- People, their roles, and bearer tokens for scripts. Sessions live in `tower_sessions`,
-- created by the session store itself.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email         TEXT    NOT NULL UNIQUE,   -- stored lower-case
    display_name  TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,          -- argon2id, PHC string
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'member')),
    -- Bumped when the password changes or the user is disabled: every session that carries an
    -- older value is dead.
    auth_epoch    BIGINT  NOT NULL DEFAULT 1,
    created_at    BIGINT  NOT NULL,
    disabled_at   BIGINT
);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,   -- SHA-256 of the token; the token itself is never stored
    created_at   BIGINT  NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX api_tokens_by_user ON api_tokens (user_id);
