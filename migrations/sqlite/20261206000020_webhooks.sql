-- Webhooks: endpoints admins add (where, which events, in which format, signed with their
-- secret), and the outbox: one delivery per event and endpoint, written in the same
-- transaction as the change, sent in order per endpoint by whichever server holds the
-- endpoint's lease (`sender`, `sender_until`).
CREATE TABLE webhook_endpoints (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    url              TEXT    NOT NULL,
    format           TEXT    NOT NULL DEFAULT 'standard'
                     CHECK (format IN ('standard', 'slack', 'discord')),
    events           TEXT    NOT NULL,
    description      TEXT    NOT NULL DEFAULT '',
    enabled          BOOLEAN NOT NULL DEFAULT TRUE,
    allow_private    BOOLEAN NOT NULL DEFAULT FALSE,
    secret           TEXT    NOT NULL,
    old_secret       TEXT,
    old_secret_until BIGINT,
    failures         BIGINT  NOT NULL DEFAULT 0,
    failing_since    BIGINT,
    last_error       TEXT,
    off_reason       TEXT,
    sender           TEXT,
    sender_until     BIGINT,
    created_by       TEXT    NOT NULL,
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL
);

CREATE TABLE webhook_deliveries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id      BIGINT  NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    message_id       TEXT    NOT NULL,
    event_type       TEXT    NOT NULL,
    issue_id         BIGINT,
    payload          TEXT    NOT NULL,
    state            TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered')),
    attempts         BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT  NOT NULL,
    last_attempt_at  BIGINT,
    last_status      BIGINT,
    last_latency_ms  BIGINT,
    last_error       TEXT,
    response_excerpt TEXT,
    created_at       BIGINT  NOT NULL,
    delivered_at     BIGINT
);
-- The sender's read: an endpoint's oldest pending delivery; the log's: its newest.
CREATE INDEX webhook_deliveries_queue ON webhook_deliveries (endpoint_id, state, id);
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (endpoint_id, id);
