-- Accounts at an OpenID provider, linked to people here. A person is found by the provider's
-- issuer and subject, never by email alone (a provider may give an email to someone else).
CREATE TABLE oidc_identities (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    issuer       TEXT    NOT NULL,
    subject      TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    last_seen_at BIGINT  NOT NULL,
    UNIQUE (issuer, subject)
);
CREATE INDEX oidc_identities_by_user ON oidc_identities (user_id);
