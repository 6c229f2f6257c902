-- Invite links: an admin makes one (a role, an expiry), the invitee opens it once to make
-- their account. Only a hash of the link's secret is kept, like bearer tokens.
CREATE TABLE invitations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    secret_hash TEXT    NOT NULL UNIQUE,   -- SHA-256 of the secret in the link
    role        TEXT    NOT NULL CHECK (role IN ('admin', 'member')),
    created_by  BIGINT  REFERENCES users (id) ON DELETE SET NULL,   -- NULL: the command line
    created_at  BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL,
    used_at     BIGINT,
    used_by     BIGINT  REFERENCES users (id) ON DELETE SET NULL,
    revoked_at  BIGINT
);
