-- Deployment switches admins flip at run time (feedback route on/off, runner paused), and the
-- failures the server filed about itself (self-heal), so a repeat within an hour counts on the
-- issue already filed instead of opening another.

CREATE TABLE settings (
    key        TEXT   PRIMARY KEY,
    value      TEXT   NOT NULL,
    updated_by TEXT   NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE self_heal_reports (
    fingerprint   TEXT   PRIMARY KEY,  -- method, route template, status, error summary
    issue_id      BIGINT NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    occurrences   BIGINT NOT NULL,
    first_seen_at BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL
);
