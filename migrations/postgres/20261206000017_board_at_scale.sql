-- A board of 100,000 issues: what every board load reads stays small.

-- How many issues each column holds, kept by a trigger (so restores and copies, which insert
-- rows, keep it right too): the board's unfiltered counts read 6 rows, not every issue.
-- Writers hold the board's write lock (an advisory lock), so the counter rows never deadlock.
CREATE TABLE issue_counts (
    status TEXT   PRIMARY KEY,
    n      BIGINT NOT NULL
);
INSERT INTO issue_counts (status, n)
SELECT s.status, (SELECT COUNT(*) FROM issues WHERE issues.status = s.status)
FROM unnest(ARRAY['backlog', 'ready', 'in_progress', 'blocked', 'in_review', 'done']) AS s (status);

CREATE FUNCTION issue_counts_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE issue_counts SET n = n - 1 WHERE status = OLD.status;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        UPDATE issue_counts SET n = n + 1 WHERE status = NEW.status;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER issue_counts_insert_delete AFTER INSERT OR DELETE ON issues
    FOR EACH ROW EXECUTE FUNCTION issue_counts_follow();
CREATE TRIGGER issue_counts_move AFTER UPDATE OF status ON issues
    FOR EACH ROW WHEN (OLD.status <> NEW.status) EXECUTE FUNCTION issue_counts_follow();

-- Search: trigram indexes on the lowered title and body, which `LOWER(x) LIKE '%word%'`
-- uses. pg_trgm ships in contrib; where it is missing, search still works (by a scan).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
        CREATE INDEX issues_title_trgm ON issues USING gin (lower(title) gin_trgm_ops);
        CREATE INDEX issues_body_trgm ON issues USING gin (lower(body) gin_trgm_ops);
    END IF;
EXCEPTION
    -- A role that may not add extensions, or pg_trgm in a schema not on the path.
    WHEN insufficient_privilege OR undefined_object THEN
        RAISE NOTICE 'no trigram indexes for search: %', SQLERRM;
END
$$;

-- Each column in its order with the id as the tie-break, so the board's queries need no
-- sort of their own.
DROP INDEX issues_by_column;
CREATE INDEX issues_by_column ON issues (status, position, id);
DROP INDEX issues_by_recency;
CREATE INDEX issues_by_recency ON issues (status, updated_at DESC, id DESC);

-- What the whole JSON list (in board order) and the warm pages' key (the leases held) read.
CREATE INDEX issues_by_position ON issues (position, id);
CREATE INDEX issues_leases ON issues (status, lease_expires_at) WHERE status = 'in_progress';
