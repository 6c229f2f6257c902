-- What an issue waits for: the runner claims it only once each of these is done.
CREATE TABLE issue_dependencies (
    issue_id INTEGER NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    depends_on INTEGER NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    PRIMARY KEY (issue_id, depends_on)
);
CREATE INDEX issue_dependencies_by_dependency ON issue_dependencies (depends_on);
