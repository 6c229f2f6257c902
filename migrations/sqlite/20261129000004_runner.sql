-- The runner: every runner process that has started, and every run of the agent on an issue.
-- `issues.claimed_by` / `lease_expires_at` hold the live claim; a run row is its history.

CREATE TABLE runners (
    id            TEXT   PRIMARY KEY,   -- AUTOPILOT_AGENT_ID, or host-pid
    host          TEXT   NOT NULL,
    pid           BIGINT NOT NULL,
    started_at    BIGINT NOT NULL,
    heartbeat_at  BIGINT NOT NULL,
    stopped_at    BIGINT,
    current_issue BIGINT REFERENCES issues (id) ON DELETE SET NULL,
    current_run   BIGINT,
    last_outcome  TEXT
);

CREATE TABLE runs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    issue_id         BIGINT  NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    runner_id        TEXT    NOT NULL,
    attempt          BIGINT  NOT NULL,
    started_at       BIGINT  NOT NULL,
    finished_at      BIGINT,
    -- review, blocked, no_change, protected, error, timeout, cancelled, interrupted, lost
    outcome          TEXT,
    exit_code        BIGINT,
    result           TEXT,
    log              TEXT    NOT NULL DEFAULT '',
    branch           TEXT,
    cost_usd         DOUBLE PRECISION,
    duration_ms      BIGINT,
    cancel_requested TEXT                -- who asked to cancel, while the run is going
);
CREATE INDEX runs_by_issue ON runs (issue_id, id);
