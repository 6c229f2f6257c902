-- Session ids are stored hashed from now on (app/src/store/sessions.rs): a copy of the
-- database holds no id that signs anyone in. Sessions stored before, under their ids in the
-- clear, are ended (everyone signs in once more).
DELETE FROM tower_sessions.session;

-- Attachment quotas (per issue, and in all) are checked on every upload: sizes by issue, read
-- from the index alone.
CREATE INDEX attachments_sizes ON attachments (issue_id, size);
