-- What each signed-in session came from and when it was last seen, for /account/sessions
-- (app/src/auth.rs). A session names its row; deleting the row ends the session. Rows of an
-- older `auth_epoch` than their person's belong to sessions already ended. Sessions started
-- before this table end (everyone signs in once more).
CREATE TABLE session_devices (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_epoch   BIGINT  NOT NULL,
    user_agent   TEXT    NOT NULL,   -- as the browser sent it, cut to 512 bytes
    address      TEXT    NOT NULL,   -- the client's address (behind trusted proxies, theirs)
    signed_in_at BIGINT  NOT NULL,
    last_seen_at BIGINT  NOT NULL    -- written at most once a minute
);
CREATE INDEX session_devices_user ON session_devices (user_id, last_seen_at);
