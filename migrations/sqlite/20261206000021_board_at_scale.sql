-- A board of 100,000 issues: what every board load reads stays small.

-- How many issues each column holds, kept by triggers (so restores and copies, which insert
-- rows, keep it right too): the board's unfiltered counts read 6 rows, not every issue.
CREATE TABLE issue_counts (
    status TEXT    PRIMARY KEY,
    n      INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO issue_counts (status, n)
SELECT s.status, (SELECT COUNT(*) FROM issues WHERE issues.status = s.status)
FROM (SELECT 'backlog' AS status UNION ALL SELECT 'ready' UNION ALL SELECT 'in_progress'
      UNION ALL SELECT 'blocked' UNION ALL SELECT 'in_review' UNION ALL SELECT 'done') s;

CREATE TRIGGER issue_counts_insert AFTER INSERT ON issues BEGIN
    UPDATE issue_counts SET n = n + 1 WHERE status = NEW.status;
END;
CREATE TRIGGER issue_counts_delete AFTER DELETE ON issues BEGIN
    UPDATE issue_counts SET n = n - 1 WHERE status = OLD.status;
END;
CREATE TRIGGER issue_counts_move AFTER UPDATE OF status ON issues
WHEN OLD.status <> NEW.status BEGIN
    UPDATE issue_counts SET n = n - 1 WHERE status = OLD.status;
    UPDATE issue_counts SET n = n + 1 WHERE status = NEW.status;
END;

-- Search: a trigram index of titles and bodies (case-insensitive substrings of 3 characters
-- or more), kept in step with `issues` by triggers. Shorter words still use LIKE.
CREATE VIRTUAL TABLE issues_fts USING fts5(
    title, body, content = 'issues', content_rowid = 'id', tokenize = 'trigram'
);
INSERT INTO issues_fts (issues_fts) VALUES ('rebuild');

CREATE TRIGGER issues_fts_insert AFTER INSERT ON issues BEGIN
    INSERT INTO issues_fts (rowid, title, body) VALUES (NEW.id, NEW.title, NEW.body);
END;
CREATE TRIGGER issues_fts_delete AFTER DELETE ON issues BEGIN
    INSERT INTO issues_fts (issues_fts, rowid, title, body)
    VALUES ('delete', OLD.id, OLD.title, OLD.body);
END;
-- Edits write the title and body back even when unchanged: only a real change re-indexes.
CREATE TRIGGER issues_fts_update AFTER UPDATE OF title, body ON issues
WHEN OLD.title <> NEW.title OR OLD.body <> NEW.body BEGIN
    INSERT INTO issues_fts (issues_fts, rowid, title, body)
    VALUES ('delete', OLD.id, OLD.title, OLD.body);
    INSERT INTO issues_fts (rowid, title, body) VALUES (NEW.id, NEW.title, NEW.body);
END;

-- What the whole JSON list (in board order) and the warm pages' key (the leases held) read;
-- the status in the partial index makes it covering, so SQLite picks it without statistics.
CREATE INDEX issues_by_position ON issues (position, id);
CREATE INDEX issues_leases ON issues (status, lease_expires_at) WHERE status = 'in_progress';
