-- Session ids are stored hashed from now on (app/src/store/sessions.rs): a copy of the
-- database holds no id that signs anyone in. Sessions stored before, under their ids in the
-- clear, are ended (everyone signs in once more). The table is made here when missing, as the
-- session store itself makes it (it does so after the migrations, on a new board).
CREATE TABLE IF NOT EXISTS tower_sessions (
    id text primary key not null,
    data blob not null,
    expiry_date integer not null
);
DELETE FROM tower_sessions;

-- Attachment quotas (per issue, and in all) are checked on every upload: sizes by issue, read
-- from the index alone.
CREATE INDEX attachments_sizes ON attachments (issue_id, size);
