-- Issues, their comments and attachments, and the audit log.
-- Times are Unix milliseconds (BIGINT), so the same schema reads the same on PostgreSQL.

CREATE TABLE issues (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    title            TEXT    NOT NULL,
    body             TEXT    NOT NULL DEFAULT '',
    status           TEXT    NOT NULL DEFAULT 'backlog'
                     CHECK (status IN ('backlog', 'ready', 'in_progress', 'blocked', 'in_review', 'done')),
    kind             TEXT    NOT NULL DEFAULT 'task'
                     CHECK (kind IN ('task', 'bug', 'feature', 'feedback')),
    priority         INTEGER NOT NULL DEFAULT 1 CHECK (priority BETWEEN 0 AND 3),
    human_only       BOOLEAN NOT NULL DEFAULT FALSE,
    assignee         TEXT,
    created_by       TEXT    NOT NULL,
    claimed_by       TEXT,
    claimed_at       BIGINT,
    lease_expires_at BIGINT,
    branch           TEXT,
    pr_url           TEXT,
    result           TEXT,
    position         DOUBLE PRECISION NOT NULL DEFAULT 0,
    version          BIGINT  NOT NULL DEFAULT 1,
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL
);
CREATE INDEX issues_by_column ON issues (status, position);
-- The runner's claim query: oldest most urgent ready issue that is not human-only.
CREATE INDEX issues_claim_order ON issues (status, human_only, priority, created_at);

CREATE TABLE comments (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    issue_id    BIGINT  NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    author_kind TEXT    NOT NULL CHECK (author_kind IN ('human', 'agent', 'system')),
    author      TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL
);
CREATE INDEX comments_by_issue ON comments (issue_id, id);

CREATE TABLE attachments (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    issue_id     BIGINT  NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    filename     TEXT    NOT NULL,
    content_type TEXT    NOT NULL,
    size         BIGINT  NOT NULL,
    bytes        BLOB    NOT NULL,
    created_by   TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL
);
CREATE INDEX attachments_by_issue ON attachments (issue_id, id);

CREATE TABLE events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    issue_id    BIGINT  REFERENCES issues (id) ON DELETE SET NULL,
    actor       TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    from_status TEXT,
    to_status   TEXT,
    data        TEXT    NOT NULL DEFAULT '{}',
    created_at  BIGINT  NOT NULL
);
CREATE INDEX events_by_issue ON events (issue_id, id);
